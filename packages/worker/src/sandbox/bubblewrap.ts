import { existsSync, lstatSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { namespaceArgs } from "./identity.js";
import type { Sandbox, SandboxOptions } from "./sandbox.js";
import { processTempDir } from "./temp-dirs.js";

const SOCKET_INSIDE = "/run/skiff/control.sock";

/**
 * What of the host a container sees, read-only: the system (programs, libraries, /etc for DNS
 * and TLS roots), not the host's home directories, /srv, /opt, /var or other projects. The
 * runtime's own files (Node, the project Skiff runs from) are added by the provider (`expose`).
 */
const SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys"];
/** Hidden even within what is shown: password hashes and the host's SSH keys. */
const SYSTEM_HIDDEN = ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/ssh"];

function systemArgs(): string[] {
  const args: string[] = [];
  for (const p of SYSTEM) {
    let st: import("node:fs").Stats;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    // Merged-/usr systems: /bin -> usr/bin stays a link.
    if (st.isSymbolicLink()) args.push("--symlink", readlinkSync(p), p);
    else if (st.isDirectory()) args.push("--ro-bind", p, p);
  }
  return args;
}

/**
 * bubblewrap: the host's system directories read-only (not its whole root), a private /tmp
 * (the work directory) and /run, new
 * user/pid/ipc/uts namespaces, and a new network namespace when `blockNetwork` is set. The
 * control plane is reached through its unix socket bound into /run/skiff.
 */
export class BubblewrapSandbox implements Sandbox {
  readonly name = "bubblewrap" as const;

  /** An empty file bound over hidden files (a bound /dev/null cannot be opened in a user namespace). */
  private emptyFile: string | undefined;

  constructor(readonly bwrapPath: string) {}

  private empty(): string {
    if (!this.emptyFile) {
      this.emptyFile = join(processTempDir("skiff-sandbox"), "empty");
      writeFileSync(this.emptyFile, "", { mode: 0o444 });
      // Removed at exit too: a process that exits without disposing (a second Ctrl-C) leaves nothing.
      process.once("exit", this.onExit);
    }
    return this.emptyFile;
  }

  private readonly onExit = () => this.dispose();

  command(argv: string[], o: SandboxOptions): { file: string; args: string[] } {
    const args = ["--die-with-parent", "--new-session", ...namespaceArgs(Boolean(o.privileged), o.blockNetwork)];
    if (o.infoFd !== undefined) args.push("--info-fd", String(o.infoFd));
    // /tmp is writable by the container's user, and full (ENOSPC) at its size.
    const tmp = ["--perms", "1777", ...(o.tmpSizeBytes ? ["--size", String(o.tmpSizeBytes)] : []), "--tmpfs", "/tmp"];
    args.push(...systemArgs(), "--dev", "/dev", "--proc", "/proc", ...tmp, "--tmpfs", "/run");
    for (const p of o.expose) args.push("--ro-bind", p, p);
    // Parents made readable first: bubblewrap would create them 0700 (closed to the container's user).
    if (o.runtimeDir)
      args.push(
        "--perms",
        "0755",
        "--dir",
        dirname(o.runtimeDir.inside),
        "--ro-bind",
        o.runtimeDir.host,
        o.runtimeDir.inside,
      );
    // Only what would be visible is covered: covering a path elsewhere would create its parents.
    for (const p of [...SYSTEM_HIDDEN, ...o.hide]) {
      if (!existsSync(p) || !this.hides(p, o.expose)) continue;
      if (statSync(p).isDirectory()) args.push("--tmpfs", p);
      else args.push("--ro-bind", this.empty(), p);
    }
    for (const m of o.mounts ?? []) args.push(m.readOnly ? "--ro-bind" : "--bind", m.hostPath, m.mountPath);
    // Devices outside /dev (stand-ins, unusual drivers): their folders readable by the container's
    // user, which may not be root.
    for (const dir of new Set((o.devices ?? []).map((d) => dirname(d)).filter((d) => d !== "/dev")))
      args.push("--perms", "0755", "--dir", dir);
    for (const d of o.devices ?? []) args.push("--dev-bind", d, d);
    args.push(
      "--perms",
      "0755",
      "--dir",
      dirname(SOCKET_INSIDE),
      "--bind",
      o.controlSocket,
      SOCKET_INSIDE,
      "--chdir",
      "/tmp",
      "--",
      ...argv,
    );
    return { file: this.bwrapPath, args };
  }

  dispose(): void {
    process.off("exit", this.onExit);
    if (this.emptyFile) rmSync(dirname(this.emptyFile), { recursive: true, force: true });
    this.emptyFile = undefined;
  }

  workdir(): string {
    return "/tmp";
  }

  socketPath(): string {
    return SOCKET_INSIDE;
  }

  /** Under a system directory it shows, or a path the provider exposes (`command` covers those). */
  hides(hostPath: string, expose: string[]): boolean {
    return [...SYSTEM, ...expose].some((d) => hostPath === d || hostPath.startsWith(`${d}/`));
  }
}
