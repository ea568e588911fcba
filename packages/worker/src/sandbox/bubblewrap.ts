import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Sandbox, SandboxOptions } from "./sandbox.js";

const SOCKET_INSIDE = "/run/skiff/control.sock";

/**
 * bubblewrap: the host root read-only, a private /tmp (the work directory) and /run, new
 * user/pid/ipc/uts namespaces, and a new network namespace when `blockNetwork` is set. The
 * control plane is reached through its unix socket bound into /run/skiff.
 */
export class BubblewrapSandbox implements Sandbox {
  readonly name = "bubblewrap" as const;

  /** An empty file bound over hidden files (a bound /dev/null cannot be opened in a user namespace). */
  private emptyFile: string | undefined;

  constructor(private readonly bwrapPath: string) {}

  private empty(): string {
    if (!this.emptyFile) {
      this.emptyFile = join(mkdtempSync(join(tmpdir(), "skiff-sandbox-")), "empty");
      writeFileSync(this.emptyFile, "", { mode: 0o444 });
    }
    return this.emptyFile;
  }

  command(argv: string[], o: SandboxOptions): { file: string; args: string[] } {
    const args = ["--die-with-parent", "--new-session", "--unshare-all"];
    if (!o.blockNetwork) args.push("--share-net");
    args.push("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run");
    for (const p of o.expose) args.push("--ro-bind", p, p);
    for (const p of o.hide) {
      if (!existsSync(p)) continue;
      if (statSync(p).isDirectory()) args.push("--tmpfs", p);
      else args.push("--ro-bind", this.empty(), p);
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
