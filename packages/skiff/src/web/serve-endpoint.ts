import { isThenable, WEB_CHUNK_BYTES, type WebRequestWire } from "@skiff/protocol";
import { internalErrorItem, jsonItem, responseItems, type WebItem } from "./response-items.js";
import { describeIssues, type StandardResult, type StandardSchemaV1 } from "./standard-schema.js";

/** What a `webEndpoint` handler gets beside its input. */
export interface WebRequestInfo {
  /** "rq-…", also in the `skiff-request-id` response header and the app's logs. */
  requestId: string;
  method: string;
  /** Path and query below the endpoint's root. */
  url: string;
  headers: Headers;
}

/** Query values are strings; a repeated key gives an array of them. */
export function queryObject(url: string): Record<string, string | string[]> {
  const q = url.indexOf("?");
  const out: Record<string, string | string[]> = {};
  if (q < 0) return out;
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** Built per request; the Headers only when a handler asks for them. */
class RequestInfo implements WebRequestInfo {
  readonly requestId: string;
  readonly method: string;
  readonly url: string;
  private h: Headers | undefined;
  constructor(private readonly w: WebRequestWire) {
    this.requestId = w.requestId;
    this.method = w.method;
    this.url = w.url;
  }
  get headers(): Headers {
    if (!this.h) {
      this.h = new Headers();
      for (const [k, v] of this.w.headers) this.h.append(k, v);
    }
    return this.h;
  }
}

export type EndpointHandler = (input: never, req: WebRequestInfo) => unknown;

/** What serveEndpoint answers: the one item of a JSON answer, or the Response to stream. */
export type EndpointAnswer = WebItem | Response;

/**
 * Runs a `webEndpoint` handler: the input is the query (GET, HEAD) or the JSON body the
 * gateway parsed; the schema checks and converts it; the result is sent as JSON, a returned
 * Response as it is. Answers the one item of a JSON answer, or the Response to stream
 * (responseItems). Synchronous when the handler and the schema are: nearly every answer is one
 * item, and a promise per request (with the container's async-context hook on each) is
 * measurable at web request rates, so nothing here makes one that the handler did not.
 */
export function serveEndpoint(
  w: WebRequestWire,
  handler: EndpointHandler,
  schema: StandardSchemaV1 | undefined,
): EndpointAnswer | Promise<EndpointAnswer> {
  const input: unknown =
    w.body.kind === "json" ? w.body.value : w.method === "GET" || w.method === "HEAD" ? queryObject(w.url) : undefined;
  if (!schema) return callHandler(w, handler, input);
  const r = schema["~standard"].validate(input);
  if (isThenable(r)) return Promise.resolve(r).then((v) => validated(w, handler, v));
  return validated(w, handler, r);
}

function validated(
  w: WebRequestWire,
  handler: EndpointHandler,
  r: StandardResult<unknown>,
): EndpointAnswer | Promise<EndpointAnswer> {
  if (r.issues) {
    const issues = describeIssues(r.issues);
    const where = w.method === "GET" || w.method === "HEAD" ? "query" : "body";
    const message = issues.map((i) => `${i.field ? `${where}.${i.field}` : where}: ${i.message}`).join("; ");
    return jsonItem(400, { error: { code: "invalid_argument", message, issues } });
  }
  return callHandler(w, handler, r.value);
}

function callHandler(
  w: WebRequestWire,
  handler: EndpointHandler,
  input: unknown,
): EndpointAnswer | Promise<EndpointAnswer> {
  let out: unknown;
  try {
    out = handler(input as never, new RequestInfo(w));
  } catch (err) {
    return failed(w, err);
  }
  // As `await` would: a thenable is followed.
  if (isThenable(out))
    return Promise.resolve(out).then(
      (v) => answer(w, v),
      (err: unknown) => failed(w, err),
    );
  return answer(w, out);
}

/** The handler's value as the response: a Response as it is, anything else as JSON. */
function answer(w: WebRequestWire, out: unknown): EndpointAnswer {
  if (out instanceof Response) return out;
  try {
    const item = jsonItem(200, out === undefined ? null : out);
    // Larger than one item may be (a payload over the inline limit would reach the gateway as
    // a blob reference, not a head): sent as a whole Response is, in slices with a length.
    if (item.body!.byteLength > WEB_CHUNK_BYTES) return new Response(item.body, { headers: item.headers });
    return item;
  } catch (err) {
    return failed(w, err); // not JSON (a BigInt, a cycle): answered as a throw is
  }
}

function failed(w: WebRequestWire, err: unknown): WebItem {
  // The stack goes to the app's logs (captured stderr), never to the client.
  console.error(`request ${w.requestId} failed:`, err);
  return internalErrorItem(w.requestId);
}

/** The items of a Response a `webEndpoint` handler returned; a body that fails is answered as a throw is. */
export async function* endpointResponse(res: Response, requestId: string): AsyncGenerator<WebItem> {
  try {
    yield* responseItems(res);
  } catch (err) {
    console.error(`request ${requestId} failed:`, err);
    yield internalErrorItem(requestId);
  }
}
