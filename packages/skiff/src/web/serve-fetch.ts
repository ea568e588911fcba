import type { WebRequestWire } from "@skiff/protocol";
import { internalErrorItem, responseItems, type WebItem } from "./response-items.js";
import { toRequest } from "./to-request.js";

/** Any Fetch-API handler: Hono's `app.fetch`, itty-router, a plain function. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Runs a `fetchApp` handler; its response streams back as it is produced. */
export async function* serveFetch(
  w: WebRequestWire,
  handler: FetchHandler,
  ids: { callId: string; inputId: string },
  signal: AbortSignal,
): AsyncGenerator<WebItem> {
  let res: Response;
  try {
    res = await handler(toRequest(w, ids, signal));
    if (!(res instanceof Response)) throw new TypeError(`the fetch handler returned ${typeof res}, not a Response`);
  } catch (err) {
    console.error(`request ${w.requestId} failed:`, err);
    yield internalErrorItem(w.requestId);
    return;
  }
  yield* responseItems(res);
}
