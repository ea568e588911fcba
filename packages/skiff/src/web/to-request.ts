import type { WebRequestWire } from "@skiff/protocol";
import { openRequestBody } from "./request-body.js";

/** The absolute URL a handler sees: the Host the client used, the path below the endpoint root. */
export function requestUrl(w: WebRequestWire): string {
  let host = "localhost";
  for (const [k, v] of w.headers)
    if (k.length === 4 && k.toLowerCase() === "host") {
      host = v;
      break;
    }
  return `http://${host}${w.url}`;
}

/** A Fetch Request for a web call; a streamed body is read from the control plane as consumed. */
export function toRequest(w: WebRequestWire, ids: { callId: string; inputId: string }, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [k, v] of w.headers) headers.append(k, v);
  let body: RequestInit["body"] = null;
  // A GET or HEAD Request has no body (as Node adapters give it), nor has an upgrade's: what
  // follows its head is the WebSocket's.
  if (w.method === "GET" || w.method === "HEAD" || w.upgrade) body = null;
  else if (w.body.kind === "bytes") body = w.body.data;
  else if (w.body.kind === "json") body = JSON.stringify(w.body.value);
  else if (w.body.kind === "stream") body = openRequestBody(ids.callId, ids.inputId, signal);
  // `duplex` is required by undici for a streamed body; the DOM typings do not know it yet.
  const init: RequestInit & { duplex?: "half" } = { method: w.method, headers, body, signal };
  if (body) init.duplex = "half";
  return new Request(requestUrl(w), init);
}
