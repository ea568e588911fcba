import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
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
    const probe = spawnSync(bwrap, ["--ro-bind", "/", "/", "--unshare-all", "--dev", "/dev", "--", "true"], {
      timeout: 5000,
    });
    if (probe.status === 0) return { sandbox: new BubblewrapSandbox(bwrap) };
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
