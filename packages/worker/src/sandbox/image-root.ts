import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { NODE_INSIDE, NPM_PROJECT } from "../images/run-step.js";
import { type ContainerUser, DROP_TO_SETUID } from "./identity.js";

/** Where the runtime's own files appear in an image container. */
const RUNTIME_INSIDE = "/opt/skiff/rt";
const SOCKET_INSIDE = "/run/skiff/control.sock";

/**
 * The runtime's files to show in an image container: the bundled runtime's folder at
 * /opt/skiff/rt; unbundled, each at /opt/skiff/rt/<its path under
 * the project root>: the project's node_modules (the runtime's dependencies) and the packages
 * the runtime loads (this one, the SDK, the protocol), wherever workspace links put them. Not
 * the project's own sources or its other packages, and never at their host paths.
 */
export function runtimeBinds(runtimeEntry: string, bundled: boolean): { binds: [string, string][]; entry: string } {
  const entry = realpathSync(runtimeEntry);
  // The bundled runtime is one folder with all it loads (runtime-bundle.ts).
  if (bundled) return { binds: [[dirname(entry), RUNTIME_INSIDE]], entry: join(RUNTIME_INSIDE, basename(entry)) };
  const nm = entry.indexOf("/node_modules/");
  // Installed from npm: the root is the folder holding node_modules; in a checkout, the repo root.
  const root = nm > 0 ? entry.slice(0, nm) : resolve(dirname(entry), "../../../..");
  const require = createRequire(entry);
  const pkgDir = (name: string) => {
    // The package's folder: up from its entry point to its package.json (exports may hide that file).
    let d = dirname(realpathSync(require.resolve(name)));
    while (!existsSync(join(d, "package.json")) && dirname(d) !== d) d = dirname(d);
    return d;
  };
  const binds = new Map<string, string>();
  const show = (host: string) => binds.set(host, join(RUNTIME_INSIDE, relative(root, host)));
  show(join(root, "node_modules"));
  for (const dir of [resolve(dirname(entry), "../.."), pkgDir("skiff"), pkgDir("@skiff/protocol")]) {
    // A workspace package (a link out of node_modules) is shown on its own.
    if (dir.startsWith(`${root}/`) && !dir.startsWith(`${root}/node_modules/`)) show(dir);
  }
  return { binds: [...binds], entry: join(RUNTIME_INSIDE, relative(root, entry)) };
}

export interface ImageRootOptions {
  bwrap: string;
  /** The image's root file system (a built layer). */
  root: string;
  workdir: string | undefined;
  node: string;
  runtime: { binds: [string, string][]; entry: string };
  controlSocket: string;
  blockNetwork: boolean;
  /** A network namespace of its own that pasta connects (NAT): reported on infoFd. */
  nat?: { infoFd: number };
  /** Size of /tmp (ENOSPC past it). */
  tmpSizeBytes?: number;
  nodeArgs: string[];
  /** Volume copies; their mount paths must exist in the image (its root is read-only). */
  mounts?: { hostPath: string; mountPath: string; readOnly: boolean }[];
  /**
   * The host user it runs as (a root server): bubblewrap runs privileged, without a user
   * namespace, keeping only CAP_SETUID/CAP_SETGID, and the runtime becomes this user before
   * it loads anything (runtime/drop-privileges.ts, told by SKIFF_RUN_AS in its env). Without
   * it: root of a user namespace of its own (the server's user on the host).
   */
  runAs?: ContainerUser;
}

/** The env that tells the runtime whom to become (see ImageRootOptions.runAs). */
export function runAsEnv(user: ContainerUser | undefined): Record<string, string> {
  return user ? { SKIFF_RUN_AS: `${user.uid}:${user.gid}` } : {};
}

/**
 * A container whose root is its image, read-only: nothing of the host is there but the
 * runtime's Node and files (under /opt/skiff) and the control socket. /tmp and /run are
 * private; own user, pid, ipc, uts (and, with blockNetwork, network) namespaces.
 */
export function imageRootCommand(o: ImageRootOptions): { file: string; args: string[] } {
  const args = ["--die-with-parent", "--new-session"];
  // With NAT the namespace is its own (pasta joins it); without, the host's network (or the
  // namespace made ahead that the sandbox was started in).
  const ownNet = o.blockNetwork || o.nat !== undefined;
  if (o.runAs)
    args.push(
      "--unshare-ipc",
      "--unshare-pid",
      "--unshare-uts",
      "--unshare-cgroup-try",
      ...(ownNet ? ["--unshare-net"] : []),
      ...DROP_TO_SETUID,
    );
  else args.push("--unshare-all", ...(ownNet ? [] : ["--share-net"]));
  if (o.nat) args.push("--info-fd", String(o.nat.infoFd));
  const tmp = ["--perms", "1777", ...(o.tmpSizeBytes ? ["--size", String(o.tmpSizeBytes)] : []), "--tmpfs", "/tmp"];
  args.push("--ro-bind", o.root, "/", "--dev", "/dev", "--proc", "/proc", ...tmp, "--tmpfs", "/run");
  // Name resolution is the one host file shown (the image's resolv.conf is empty), and only with a network.
  if (!o.blockNetwork && existsSync("/etc/resolv.conf")) args.push("--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf");
  args.push("--tmpfs", "/opt/skiff");
  // The folders leading to each bind made readable first: bubblewrap makes them 0700, closed
  // to a container that runs as another user than root (runAs).
  const binds: [string, string][] = [[o.node, `${NODE_INSIDE}/bin/node`], ...o.runtime.binds];
  const made = new Set<string>();
  for (const [, inside] of binds)
    for (let d = dirname(inside); d !== "/opt/skiff" && d.startsWith("/opt/skiff/"); d = dirname(d)) made.add(d);
  for (const d of [...made].sort()) args.push("--perms", "0755", "--dir", d);
  for (const [host, inside] of binds) args.push("--ro-bind", host, inside);
  for (const m of o.mounts ?? []) args.push(m.readOnly ? "--ro-bind" : "--bind", m.hostPath, m.mountPath);
  // The socket's folder made readable first (bubblewrap would make it 0700, closed to runAs).
  args.push("--perms", "0755", "--dir", dirname(SOCKET_INSIDE));
  args.push("--bind", o.controlSocket, SOCKET_INSIDE, "--chdir", o.workdir ?? "/tmp");
  args.push("--", `${NODE_INSIDE}/bin/node`, ...o.nodeArgs, o.runtime.entry);
  return { file: o.bwrap, args };
}

export const IMAGE_SOCKET = SOCKET_INSIDE;
/** The image's npm packages, linked next to the bundle so its imports resolve to them. */
export const IMAGE_NODE_MODULES = `${NPM_PROJECT}/node_modules`;
