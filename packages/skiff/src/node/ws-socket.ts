import { readFile } from "node:fs/promises";
import type { ClientRequest } from "node:http";
import { NotSupportedError } from "../errors.js";
import type { Socket, SocketHandlers } from "../transport/socket.js";

type WsModule = typeof import("ws");
let ws: Promise<WsModule> | undefined;

/**
 * A WebSocket over `ws`: it reaches unix sockets, lets the process exit while idle (unref), and
 * shows the TCP connect apart from the handshake (a server that accepted is slow, not absent).
 * Imported on first use, so that loading the SDK stays cheap.
 */
export async function openWsSocket(
  url: string,
  maxPayload: number,
  caFile: string | undefined,
  h: SocketHandlers,
): Promise<Socket> {
  ws ??= import("ws").catch((err: unknown) => {
    ws = undefined;
    // Not a dropped connection: nothing would change by retrying.
    throw new NotSupportedError(
      `cannot load the ws package that skiff connects with on Node (${(err as Error).message}): reinstall skiff`,
    );
  });
  const { WebSocket } = await ws;
  // Certificates are always verified; a custom CA is what this server's is checked against.
  const ca = caFile ? [await readFile(caFile, "utf8")] : undefined;
  // Over a unix socket (a container to its server) frames are not masked (an all-zero key, which
  // ws then skips on both ends): masking guards against caching proxies on a network path, and
  // a unix socket has none; at map rates it was a pass over every byte on each side.
  const local = url.startsWith("ws+unix:");
  const sock = new WebSocket(url, {
    maxPayload,
    perMessageDeflate: false,
    ...(ca ? { ca } : {}),
    ...(local ? { generateMask: (mask: Buffer) => mask.fill(0) } : {}),
  });
  sock.binaryType = "nodebuffer";
  (sock as unknown as { _req?: ClientRequest })._req?.once("socket", (s) => s.once("connect", () => h.onConnect()));
  sock.on("open", () => h.onOpen());
  sock.on("message", (data: Buffer) => h.onMessage(data));
  sock.on("close", (code: number, reason: Buffer) => h.onClose(code, reason.toString()));
  sock.on("error", (err: Error) => h.onError(err));
  return {
    send: (data) => sock.send(data),
    close: (code, reason) => sock.close(code, reason),
    setKeepAlive(alive) {
      const raw = (sock as unknown as { _socket?: { ref(): void; unref(): void } })._socket;
      if (raw) alive ? raw.ref() : raw.unref();
    },
    bufferedAmount: () => sock.bufferedAmount,
    usable: () => true,
  };
}
