import type { WebRequestWire } from "@skiff/protocol";
import type { Profile } from "./config.js";
import { NotSupportedError } from "./errors.js";
import type { Socket, SocketHandlers } from "./transport/socket.js";
import type { WebItem } from "./web/response-items.js";
import type { FetchHandler } from "./web/serve-fetch.js";
import type { NodeApp } from "./web/serve-node.js";

/**
 * What the SDK can do only on Node (and runtimes that emulate it: Bun, Deno): read and write
 * `~/.skiff.toml`, open sockets with `ws`, and serve web apps in a container. The `node` export
 * condition of the package (`skiff` resolved by Node, Bun, Deno or esbuild --platform=node)
 * loads `node/index.js`, which installs these; the default entry has no import of a Node
 * built-in, so browsers and edge bundlers (esbuild --platform=browser|neutral, wrangler) take it
 * with no flags. Without them the SDK works with explicit configuration and the global WebSocket.
 */
export interface NodeCapabilities {
  /** A WebSocket over `ws`: unix sockets, unref'd while idle, the TCP connect seen apart. */
  openWsSocket(url: string, maxPayload: number, caFile: string | undefined, handlers: SocketHandlers): Promise<Socket>;
  /** The framed stream to a Skiff server's control socket (a runtime the server started). */
  openFramedSocket(path: string, maxPayload: number, handlers: SocketHandlers): Socket;
  configPath(env: Record<string, string | undefined>): string;
  readProfiles(file: string): Promise<Record<string, Profile>>;
  writeProfile(file: string, name: string, profile: Profile, activate: boolean): Promise<void>;
  serveFetch(
    w: WebRequestWire,
    handler: FetchHandler,
    ids: { callId: string; inputId: string },
    signal: AbortSignal,
  ): AsyncGenerator<WebItem>;
  serveNode(
    w: WebRequestWire,
    app: NodeApp,
    ids: { callId: string; inputId: string },
    signal: AbortSignal,
  ): AsyncGenerator<WebItem>;
}

let node: NodeCapabilities | undefined;

/** Internal: called once by the `node` entry. */
export function _installNodeCapabilities(c: NodeCapabilities): void {
  node = c;
}

/** The Node capabilities, when this copy of the SDK was loaded through its `node` entry. */
export function nodeCapabilities(): NodeCapabilities | undefined {
  return node;
}

/** The Node capabilities, or a NotSupportedError saying that `what` needs Node, and `instead`. */
export function needNode(what: string, instead = ""): NodeCapabilities {
  if (node) return node;
  throw new NotSupportedError(
    `${what} needs Node, Bun or Deno, and this copy of skiff was loaded through its portable entry (a browser or edge bundle)${instead ? `: ${instead}` : ""}`,
  );
}

/** Cloudflare's workerd (Workers, wrangler dev): each I/O object belongs to the request that made it. */
export const IS_WORKERD =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";
