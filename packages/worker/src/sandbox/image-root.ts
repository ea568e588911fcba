import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { NODE_INSIDE, NPM_PROJECT } from "../images/run-step.js";

/** Where the runtime's own files appear in an image container. */
const RUNTIME_INSIDE = "/opt/skiff/rt";
const SOCKET_INSIDE = "/run/skiff/control.sock";

/**
 * The runtime's files to show in an image container, each at /opt/skiff/rt/<its path under
 * the project root>: the project's node_modules and the workspace packages its links point
 * to. Not the project's own sources, and never at their host paths.
 */
export function runtimeBinds(runtimeEntry: string): { binds: [string, string][]; entry: string } {
  const entry = realpathSync(runtimeEntry);
  const nm = entry.indexOf("/node_modules/");
  // Installed from npm: the root is the folder holding node_modules; in a checkout, the repo root.
  const root = nm > 0 ? entry.slice(0, nm) : resolve(dirname(entry), "../../../..");
  const binds = new Map<string, string>();
  const show = (host: string) => binds.set(host, join(RUNTIME_INSIDE, relative(root, host)));
  show(join(root, "node_modules"));
  // Workspace links (node_modules/skiff -> ../packages/skiff) point outside node_modules.
  const scan = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (name.startsWith("@")) {
        scan(p);
        continue;
      }
      if (!lstatSync(p).isSymbolicLink()) continue;
      const target = resolve(dirname(p), readlinkSync(p));
      if (target.startsWith(`${root}/`) && !target.startsWith(`${root}/node_modules/`)) show(target);
    }
  };
  scan(join(root, "node_modules"));
  if (!entry.startsWith(`${root}/node_modules/`)) {
    // The worker package itself, when it is not reached through a link (running from its folder).
    const pkg = resolve(dirname(entry), "../..");
    if (![...binds.keys()].some((b) => pkg === b || pkg.startsWith(`${b}/`))) show(pkg);
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
  nodeArgs: string[];
}

/**
 * A container whose root is its image, read-only: nothing of the host is there but the
 * runtime's Node and files (under /opt/skiff) and the control socket. /tmp and /run are
 * private; own user, pid, ipc, uts (and, with blockNetwork, network) namespaces.
 */
export function imageRootCommand(o: ImageRootOptions): { file: string; args: string[] } {
  const args = ["--die-with-parent", "--new-session", "--unshare-all"];
  if (!o.blockNetwork) args.push("--share-net");
  args.push("--ro-bind", o.root, "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run");
  // Name resolution is the one host file shown (the image's resolv.conf is empty), and only with a network.
  if (!o.blockNetwork && existsSync("/etc/resolv.conf")) args.push("--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf");
  args.push("--tmpfs", "/opt/skiff", "--ro-bind", o.node, `${NODE_INSIDE}/bin/node`);
  for (const [host, inside] of o.runtime.binds) args.push("--ro-bind", host, inside);
  args.push("--bind", o.controlSocket, SOCKET_INSIDE, "--chdir", o.workdir ?? "/tmp");
  args.push("--", `${NODE_INSIDE}/bin/node`, ...o.nodeArgs, o.runtime.entry);
  return { file: o.bwrap, args };
}

export const IMAGE_SOCKET = SOCKET_INSIDE;
/** The image's npm packages, linked next to the bundle so its imports resolve to them. */
export const IMAGE_NODE_MODULES = `${NPM_PROJECT}/node_modules`;
