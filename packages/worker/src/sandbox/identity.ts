import { accessSync, constants } from "node:fs";

/** The host user a container runs as. */
export interface ContainerUser {
  uid: number;
  gid: number;
}

/** nobody/nogroup on Debian: owns nothing, so a container can read only what is world-readable. */
export const NOBODY: ContainerUser = { uid: 65534, gid: 65534 };

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"];

/**
 * Who containers run as. A server running as root runs them as `nobody` (or the given user):
 * bubblewrap runs privileged, sets up the sandbox, and `setpriv` drops to that user with no
 * capabilities and no way to gain any before the runtime starts. A server that is not root
 * cannot change a process's host user: containers then run as the server's user inside a user
 * namespace, and what protects the server's files is what the sandbox shows (docs/security.md).
 */
export function containerIdentity(user: ContainerUser | undefined): {
  user: ContainerUser | undefined;
  warning?: string;
} {
  if (process.getuid?.() !== 0) return { user: undefined };
  const setpriv = SETPRIV.find(executable);
  if (!setpriv)
    return { user: undefined, warning: "setpriv (util-linux) is missing: containers run as root in a user namespace" };
  return { user: user ?? NOBODY };
}

/** The command line that runs `argv` as `user`, with every capability dropped. */
export function asUser(user: ContainerUser, argv: string[]): string[] {
  const setpriv = SETPRIV.find(executable)!;
  return [
    setpriv,
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
    "--",
    ...argv,
  ];
}

/**
 * bubblewrap's namespaces. Unprivileged: all of them, a user namespace included. Privileged
 * (root, dropping to another user with setpriv): no user namespace — it would map the
 * container back to root on the host — and only the capabilities setpriv needs, which it
 * drops with everything else.
 */
export function namespaceArgs(privileged: boolean, blockNetwork: boolean): string[] {
  if (!privileged) return ["--unshare-all", ...(blockNetwork ? [] : ["--share-net"])];
  return [
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-uts",
    "--unshare-cgroup-try",
    ...(blockNetwork ? ["--unshare-net"] : []),
    ...DROP_TO_SETUID,
    // setpriv clears the bounding set (PR_CAPBSET_DROP needs CAP_SETPCAP), then drops the rest.
    "--cap-add",
    "CAP_SETPCAP",
  ];
}

/**
 * Privileged bubblewrap keeps every capability of root unless told (`--cap-add` alone adds to
 * that): all dropped, but the two that changing user needs.
 */
export const DROP_TO_SETUID = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"];

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
