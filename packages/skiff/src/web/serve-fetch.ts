import type { WebRequestWire } from "@skiff/protocol";
import { acceptWebSocket } from "./accept-websocket.js";
import { HandlerSocket } from "./handler-socket.js";
import { nodeRequest } from "./node-request.js";
import { internalErrorItem, responseItems, type WebItem } from "./response-items.js";
import { toRequest } from "./to-request.js";
import { serveUpgrade } from "./tunnel.js";
import { _expectUpgrade } from "./websocket.js";

/** Any Fetch-API handler: Hono's `app.fetch`, itty-router, a plain function. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * Runs a `fetchApp` handler; its response streams back as it is produced. An upgrade request
 * the app accepts with `upgradeWebSocket` becomes a WebSocket on the call's tunnel.
 */
export async function* serveFetch(
  w: WebRequestWire,
  handler: FetchHandler,
  ids: { callId: string; inputId: string },
  signal: AbortSignal,
): AsyncGenerator<WebItem> {
  let res: Response;
  const request = toRequest(w, ids, signal);
  const upgrade = w.upgrade ? _expectUpgrade(request) : undefined;
  try {
    res = await handler(request);
    if (!(res instanceof Response)) throw new TypeError(`the fetch handler returned ${typeof res}, not a Response`);
  } catch (err) {
    console.error(`request ${w.requestId} failed:`, err);
    yield internalErrorItem(w.requestId);
    return;
  }
  const events = upgrade?.events;
  if (events) {
    const socket = new HandlerSocket(w);
    const req = nodeRequest(w, socket);
    yield* serveUpgrade(w, req, socket, ids, signal, (r, s) => {
      acceptWebSocket(r, s, events).catch((err: unknown) => s.destroy(err as Error));
    });
    return;
  }
  yield* responseItems(res);
}
