import type { IncomingMessage } from "node:http";
import type { WebSocketServer } from "ws";
import type { HandlerSocket } from "./handler-socket.js";
import type { WSContext, WSEvents, WSMessageReceive } from "./websocket.js";

let server: WebSocketServer | undefined;

/** Completes the handshake on the tunnel socket and wires the app's events to the socket. */
export async function acceptWebSocket(req: IncomingMessage, socket: HandlerSocket, events: WSEvents): Promise<void> {
  if (!server) {
    const { WebSocketServer } = await import("ws");
    server = new WebSocketServer({ noServer: true });
  }
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
  server.handleUpgrade(req, socket, Buffer.alloc(0), (ws) => {
    ws.binaryType = "arraybuffer";
    const ctx: WSContext = {
      send: (data, options) => ws.send(data, { compress: options?.compress }),
      close: (code, reason) => ws.close(code, reason),
      get readyState() {
        return ws.readyState as 0 | 1 | 2 | 3;
      },
      url,
      protocol: ws.protocol || null,
      raw: ws,
      // Binary messages arrive as ArrayBuffers (as with Hono's Node adapter).
      binaryType: "arraybuffer",
    };
    ws.on("message", (data, isBinary) => {
      const value: WSMessageReceive = isBinary ? (data as ArrayBuffer) : Buffer.from(data as ArrayBuffer).toString();
      events.onMessage?.(
        new MessageEvent("message", { data: value }) as MessageEvent & { data: WSMessageReceive },
        ctx,
      );
    });
    ws.on("close", (code, reason) => {
      const evt = Object.assign(new Event("close"), { code, reason: reason.toString(), wasClean: code !== 1006 });
      events.onClose?.(evt, ctx);
    });
    ws.on("error", () => events.onError?.(new Event("error"), ctx));
    events.onOpen?.(new Event("open"), ctx);
  });
}
