import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { BubblewrapSandbox } from "./bubblewrap.js";
import { NoSandbox } from "./no-sandbox.js";
import type { Sandbox } from "./sandbox.js";

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

export type SandboxChoice = "auto" | "bubblewrap" | "none";

/**
 * Picks the sandbox: bubblewrap when installed and working here, else no sandbox (the
 * caller warns once). `bubblewrap` insists and throws when it cannot run.
 */
export function detectSandbox(choice: SandboxChoice): { sandbox: Sandbox; warning?: string } {
  if (choice === "none") return { sandbox: new NoSandbox() };
  const bwrap = which("bwrap");
  if (bwrap) {
    const known = workedBefore(bwrap);
    if (known.worked) return { sandbox: new BubblewrapSandbox(bwrap) };
    const probe = spawnSync(bwrap, ["--ro-bind", "/", "/", "--unshare-all", "--dev", "/dev", "--", "true"], {
      timeout: 5000,
    });
    if (probe.status === 0) {
      known.remember();
      return { sandbox: new BubblewrapSandbox(bwrap) };
    }
    const why = `bubblewrap is installed but cannot create a sandbox here: ${probe.stderr?.toString().trim() || `exit ${probe.status}`}`;
    if (choice === "bubblewrap") throw new Error(why);
    return {
      sandbox: new NoSandbox(),
      warning: `${why}; containers run as plain processes, without isolation`,
    };
  }
  if (choice === "bubblewrap") throw new Error("bubblewrap (bwrap) is not installed");
  return {
    sandbox: new NoSandbox(),
    warning:
      "bubblewrap (bwrap) is not installed: containers run as plain processes, without isolation (apt-get install bubblewrap)",
  };
}

/**
 * Whether bubblewrap made a sandbox here before, since this boot, as this user, with this
 * bwrap binary and these user-namespace settings. The probe blocks the thread that starts a
 * server for 10-50 ms (making and tearing down a network namespace is slow in the kernel), on
 * the way to every `skiff run`'s first container. Only a success is remembered: a host where
 * bwrap stops working after one makes containers fail to start (bwrap's error), never run
 * them unsandboxed. Kept in ~/.skiff/cache (this user's own, not a shared /tmp name).
 */
function workedBefore(bwrap: string): { worked: boolean; remember(): void } {
  let key: string;
  let file: string;
  try {
    const st = statSync(bwrap);
    const read = (p: string) => {
      try {
        return readFileSync(p, "utf8").trim();
      } catch {
        return "-";
      }
    };
    key = createHash("sha256")
      .update(
        JSON.stringify([
          read("/proc/sys/kernel/random/boot_id"),
          process.getuid?.(),
          bwrap,
          st.size,
          st.mtimeMs,
          read("/proc/sys/user/max_user_namespaces"),
          read("/proc/sys/kernel/unprivileged_userns_clone"),
          read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        ]),
      )
      .digest("hex");
    file = join(process.env.HOME || homedir(), ".skiff", "cache", "bwrap-works");
  } catch {
    return { worked: false, remember: () => {} };
  }
  let worked = false;
  try {
    worked = readFileSync(file, "utf8") === key;
  } catch {}
  return {
    worked,
    remember() {
      try {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(`${file}.${process.pid}`, key);
        renameSync(`${file}.${process.pid}`, file);
      } catch {} // only saves time
    },
  };
}
