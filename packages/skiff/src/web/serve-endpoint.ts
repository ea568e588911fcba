import type { WebRequestWire } from "@skiff/protocol";
import { internalErrorItem, jsonItem, responseItems, type WebItem } from "./response-items.js";
import { describeIssues, type StandardSchemaV1 } from "./standard-schema.js";

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

/**
 * Runs a `webEndpoint` handler: the input is the query (GET, HEAD) or the JSON body the
 * gateway parsed; the schema checks and converts it; the result is sent as JSON, a returned
 * Response as it is. Resolves to the one item of a JSON answer, or the Response to stream
 * (responseItems): a plain async function, not a generator, since nearly every answer is one item.
 */
export async function serveEndpoint(
  w: WebRequestWire,
  handler: EndpointHandler,
  schema: StandardSchemaV1 | undefined,
): Promise<WebItem | Response> {
  let input: unknown = w.method === "GET" || w.method === "HEAD" ? queryObject(w.url) : undefined;
  if (w.body.kind === "json") input = w.body.value;
  if (schema) {
    const r = await schema["~standard"].validate(input);
    if (r.issues) {
      const issues = describeIssues(r.issues);
      const where = w.method === "GET" || w.method === "HEAD" ? "query" : "body";
      const message = issues.map((i) => `${i.field ? `${where}.${i.field}` : where}: ${i.message}`).join("; ");
      return jsonItem(400, { error: { code: "invalid_argument", message, issues } });
    }
    input = r.value;
  }
  try {
    const out = await handler(input as never, new RequestInfo(w));
    if (out instanceof Response) return out;
    return jsonItem(200, out === undefined ? null : out);
  } catch (err) {
    // The stack goes to the app's logs (captured stderr), never to the client.
    console.error(`request ${w.requestId} failed:`, err);
    return internalErrorItem(w.requestId);
  }
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
