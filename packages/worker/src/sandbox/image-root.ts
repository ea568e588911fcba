import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { NODE_INSIDE, NPM_PROJECT } from "../images/run-step.js";

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
}

/**
 * A container whose root is its image, read-only: nothing of the host is there but the
 * runtime's Node and files (under /opt/skiff) and the control socket. /tmp and /run are
 * private; own user, pid, ipc, uts (and, with blockNetwork, network) namespaces.
 */
export function imageRootCommand(o: ImageRootOptions): { file: string; args: string[] } {
  const args = ["--die-with-parent", "--new-session", "--unshare-all"];
  // With NAT the namespace is its own (pasta joins it); without, the host's network.
  if (!o.blockNetwork && !o.nat) args.push("--share-net");
  if (o.nat) args.push("--info-fd", String(o.nat.infoFd));
  const tmp = ["--perms", "1777", ...(o.tmpSizeBytes ? ["--size", String(o.tmpSizeBytes)] : []), "--tmpfs", "/tmp"];
  args.push("--ro-bind", o.root, "/", "--dev", "/dev", "--proc", "/proc", ...tmp, "--tmpfs", "/run");
  // Name resolution is the one host file shown (the image's resolv.conf is empty), and only with a network.
  if (!o.blockNetwork && existsSync("/etc/resolv.conf")) args.push("--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf");
  args.push("--tmpfs", "/opt/skiff", "--ro-bind", o.node, `${NODE_INSIDE}/bin/node`);
  for (const [host, inside] of o.runtime.binds) args.push("--ro-bind", host, inside);
  for (const m of o.mounts ?? []) args.push(m.readOnly ? "--ro-bind" : "--bind", m.hostPath, m.mountPath);
  args.push("--bind", o.controlSocket, SOCKET_INSIDE, "--chdir", o.workdir ?? "/tmp");
  args.push("--", `${NODE_INSIDE}/bin/node`, ...o.nodeArgs, o.runtime.entry);
  return { file: o.bwrap, args };
}

export const IMAGE_SOCKET = SOCKET_INSIDE;
/** The image's npm packages, linked next to the bundle so its imports resolve to them. */
export const IMAGE_NODE_MODULES = `${NPM_PROJECT}/node_modules`;
