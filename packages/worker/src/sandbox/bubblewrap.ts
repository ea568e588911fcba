import { existsSync, statSync } from "node:fs";
import type { Sandbox, SandboxOptions } from "./sandbox.js";

const SOCKET_INSIDE = "/run/skiff/control.sock";

/**
 * bubblewrap: the host root read-only, a private /tmp (the work directory) and /run, new
 * user/pid/ipc/uts namespaces, and a new network namespace when `blockNetwork` is set. The
 * control plane is reached through its unix socket bound into /run/skiff.
 */
export class BubblewrapSandbox implements Sandbox {
  readonly name = "bubblewrap" as const;

  constructor(private readonly bwrapPath: string) {}

  command(argv: string[], o: SandboxOptions): { file: string; args: string[] } {
    const args = ["--die-with-parent", "--new-session", "--unshare-all"];
    if (!o.blockNetwork) args.push("--share-net");
    args.push(
      "--ro-bind",
      "/",
      "/",
      "--dev",
      "/dev",
      "--proc",
      "/proc",
      "--tmpfs",
      "/tmp",
      "--tmpfs",
      "/run",
    );
    for (const p of o.hide) {
      if (!existsSync(p)) continue;
      if (statSync(p).isDirectory()) args.push("--tmpfs", p);
      else args.push("--ro-bind", "/dev/null", p);
    }
    args.push("--bind", o.controlSocket, SOCKET_INSIDE, "--chdir", "/tmp", "--", ...argv);
    return { file: this.bwrapPath, args };
  }

  workdir(): string {
    return "/tmp";
  }

  socketPath(): string {
    return SOCKET_INSIDE;
  }
}
