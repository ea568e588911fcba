import type { IncomingMessage } from "node:http";
import type { WebRequestWire } from "@skiff/protocol";
import type { HandlerSocket } from "./handler-socket.js";
import { openRequestBody } from "./request-body.js";

/**
 * An upgrade the handler takes over: `take` gets the request and the socket as Node's server
 * would give them to its 'upgrade' listeners. The handler's writes to the socket (its own
 * `HTTP/1.1 101` first) are the call's items, raw; the client's bytes are read from the request
 * body. The call ends when the handler ends or destroys the socket, or the client goes away.
 */
export async function* serveUpgrade(
  w: WebRequestWire,
  req: IncomingMessage,
  socket: HandlerSocket,
  ids: { callId: string; inputId: string },
  signal: AbortSignal,
  take: (req: IncomingMessage, socket: HandlerSocket) => void,
): AsyncGenerator<Uint8Array> {
  socket.tunnel = true;
  socket.readFrom(openRequestBody(ids.callId, ids.inputId, signal));
  const gone = () => socket.destroy();
  signal.addEventListener("abort", gone, { once: true });
  try {
    take(req, socket);
    yield* socket.items();
  } catch (err) {
    console.error(`request ${w.requestId} (upgrade) failed:`, err);
    throw err;
  } finally {
    signal.removeEventListener("abort", gone);
    socket.destroy();
  }
}
