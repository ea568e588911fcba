import { NotSupportedError } from "../errors.js";
import { nodeCapabilities } from "../platform.js";

/**
 * The smallest WebSocket surface the connection needs: over `ws` on Node (node/ws-socket.ts),
 * over the runtime's own WebSocket elsewhere (browsers, Deno, Bun, workerd).
 */
export interface Socket {
  /** Throws when the socket cannot take it (closed, or, under workerd, another request's). */
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Lets the process exit while the socket is idle (Node only; a no-op elsewhere). */
  setKeepAlive(alive: boolean): void;
  /** Bytes queued in the socket but not yet written. */
  bufferedAmount(): number;
  /** False where this code may not touch it: under workerd, a socket another request opened. */
  usable(): boolean;
}

export interface SocketHandlers {
  /** The transport (TCP, unix socket) is connected; the WebSocket handshake follows. */
  onConnect(): void;
  onOpen(): void;
  onMessage(data: Uint8Array): void;
  onClose(code: number, reason: string): void;
  onError(err: Error): void;
}

/** Turns a server URL (`http://…`, `https://…`, `unix:/path`) into the WebSocket endpoint. */
export function websocketUrl(serverUrl: string): string {
  if (serverUrl.startsWith("unix:")) return `ws+unix:${serverUrl.slice(5)}:/v1/ws`;
  const u = new URL(serverUrl);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  u.pathname = `${u.pathname.replace(/\/$/, "")}/v1/ws`;
  return u.toString();
}

type WebSocketClass = new (url: string) => WebSocket;

/**
 * Which WebSocket this runtime connects with, chosen by what it can do. `ws` where the SDK was
 * loaded through its `node` entry (Node, and Bun and Deno running an installed package): it
 * reaches unix sockets, lets a script exit while the connection is idle (the runtimes' own
 * WebSocket keeps Bun and Deno alive until `client.close()`), and Node 20 has no other. The
 * runtime's own elsewhere (browsers, workerd, bundles without `ws`). None: a NotSupportedError,
 * which the connection treats as permanent, not as a dropped connection to retry.
 */
export function socketKind(url: string): "ws" | "global" {
  if (url.startsWith("ws+unix:")) {
    if (nodeCapabilities()) return "ws";
    throw new NotSupportedError(`a unix: server URL (${url.slice(8, -7)}) needs Node, Bun or Deno`);
  }
  if (nodeCapabilities()) return "ws";
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function") return "global";
  throw new NotSupportedError(
    "this runtime has no WebSocket (no global WebSocket, and this copy of skiff was loaded through its portable entry, without the ws package): run on Node 22 or later, Bun, Deno, a browser or workerd, or import skiff through its node entry",
  );
}

export async function openSocket(
  url: string,
  maxPayload: number,
  caFile: string | undefined,
  h: SocketHandlers,
): Promise<Socket> {
  if (socketKind(url) === "ws") {
    try {
      return await nodeCapabilities()!.openWsSocket(url, maxPayload, caFile, h);
    } catch (err) {
      // `ws` would not load (a bundle that left it out): the runtime's own will do, but for unix sockets.
      const hasGlobal = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";
      if (!(err instanceof NotSupportedError) || !hasGlobal || url.startsWith("ws+unix:")) throw err;
    }
  }
  if (caFile)
    throw new NotSupportedError(
      `a custom CA (${caFile}) needs Node, Bun or Deno: this runtime verifies the server's certificate against its own trust store`,
    );
  const G = (globalThis as unknown as { WebSocket: WebSocketClass }).WebSocket;
  const ws = new G(url);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    h.onConnect();
    h.onOpen();
  };
  ws.onmessage = (ev) => h.onMessage(new Uint8Array(ev.data as ArrayBuffer));
  ws.onclose = (ev) => h.onClose(ev.code, ev.reason);
  ws.onerror = (ev) => h.onError(new Error((ev as { message?: string }).message || "WebSocket error"));
  return {
    send: (data) => ws.send(data),
    // A browser's WebSocket throws for codes a client may not send (1002, protocol error).
    close: (code, reason) => ws.close(code === 1000 || (code && code >= 3000) ? code : 1000, reason),
    setKeepAlive() {},
    bufferedAmount: () => ws.bufferedAmount,
    usable() {
      // workerd throws on any use of another request's I/O object, even reading its state.
      try {
        return ws.readyState >= 0;
      } catch {
        return false;
      }
    },
  };
}
