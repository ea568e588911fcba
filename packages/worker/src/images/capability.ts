import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, realpathSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

/** What the builder runs with: found once per process. */
export interface BuildTools {
  mmdebstrap: string;
  bwrap: string;
  /** The runtime's own Node binary, bound into images (decision 9: not the distribution's). */
  node: string;
  /** npm that ships with that Node (for npmInstall); undefined when this Node has none. */
  npmDir: string | undefined;
}

/**
 * Checks that this host can build and run images: Linux, mmdebstrap, bubblewrap, and user
 * namespaces in which a step runs as uid 0. Returns the tools, or what is missing, in words.
 */
export function probeBuildTools(): BuildTools | string {
  if (process.platform !== "linux") return `images need Linux (this is ${process.platform})`;
  const missing: string[] = [];
  const mmdebstrap = which("mmdebstrap");
  if (!mmdebstrap) missing.push("mmdebstrap (apt-get install mmdebstrap)");
  const bwrap = which("bwrap");
  if (!bwrap) missing.push("bubblewrap (apt-get install bubblewrap)");
  if (missing.length) return `images cannot be built here: missing ${missing.join(" and ")}`;
  const probe = spawnSync(
    bwrap!,
    ["--unshare-user", "--uid", "0", "--gid", "0", "--ro-bind", "/", "/", "--dev", "/dev", "--", "true"],
    { timeout: 5000 },
  );
  if (probe.status !== 0)
    return `images cannot be built here: user namespaces are not available (bwrap --unshare-user: ${
      probe.stderr?.toString().trim() || `exit ${probe.status}`
    }; check kernel.unprivileged_userns_clone / user.max_user_namespaces)`;
  const node = realpathSync(process.execPath);
  const npmDir = join(dirname(dirname(node)), "lib", "node_modules", "npm");
  return { mmdebstrap: mmdebstrap!, bwrap: bwrap!, node, npmDir: existsSync(npmDir) ? npmDir : undefined };
}
