/**
 * Web endpoints on the wire. A web request is a generator call of the endpoint's function:
 * its one argument is a WebRequestWire; it yields a WebResponseHead first, then the body as
 * Uint8Array chunks, with the generator ack window as backpressure. A request body too large
 * to travel inline is pulled by the container with `web.body.pull` credit (docs/web.md).
 */

/** What kind of handler serves an endpoint. */
export type WebKind = "endpoint" | "fetch" | "node";

/** Methods a `webEndpoint` may accept. */
export const WEB_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;
export type WebMethod = (typeof WEB_METHODS)[number];

/** Web configuration of a function, recorded in its FunctionSpec. */
export interface WebSpec {
  kind: WebKind;
  /** The URL label: `<app>--<label>.<host>` and `/web/<app>/<label>`. */
  label: string;
  /** `webEndpoint` only: the one method it accepts (others get 405). */
  method?: WebMethod;
  /** Wait for the response head (up to the server's cap, then 303), or answer 202 at once. */
  waitForResponse: boolean;
  /** Demand an endpoint token (`skiff token new --web`). */
  requiresAuth: boolean;
}

/** Labels: lowercase letters, digits and single hyphens; "-dev" is reserved for ephemeral apps. */
export const WEB_LABEL = /^[a-z0-9](?:[a-z0-9]|-(?!-)){0,62}$/;

export type WebBodyWire =
  | { kind: "none" }
  /** The whole body, small enough to travel with the request. */
  | { kind: "bytes"; data: Uint8Array }
  /** `webEndpoint` with a JSON body: parsed by the gateway (a parse error is its 400). */
  | { kind: "json"; value: unknown }
  /** The body follows in `web.body` events, pulled with `web.body.pull` credit. */
  | { kind: "stream" };

export interface WebRequestWire {
  /** "rq-…": answered in the `skiff-request-id` header and shown in error bodies and logs. */
  requestId: string;
  method: string;
  /** Path and query below the endpoint's root, always starting with "/", as the client sent it. */
  url: string;
  /**
   * Header pairs as received, names as the client spelled them, repeats kept; auth headers are
   * removed. Compare names case-insensitively.
   */
  headers: [string, string][];
  body: WebBodyWire;
  /** "1.1" or "1.0", as the client spoke. @defaultValue "1.1" */
  httpVersion?: string;
  /** The client's address and port as the gateway's socket saw them. */
  remoteAddress?: string;
  remotePort?: number;
  /**
   * A WebSocket (or other) upgrade: the call is a tunnel. The client's bytes after the request
   * head follow as a streamed body (`web.body`); every item the call yields is raw bytes for
   * the client's socket, the handler's own `HTTP/1.1 101` first (docs/web.md).
   */
  upgrade?: boolean;
}

/** The first item a web call yields. `body` with `end` is a whole response in one item. */
export interface WebResponseHead {
  status: number;
  /** The reason phrase the handler set (Node's `statusMessage`); the standard one otherwise. */
  statusText?: string;
  /** Header pairs in the handler's order and spelling, repeats kept. */
  headers: [string, string][];
  body?: Uint8Array;
  end?: boolean;
}

/** The last item of a response whose handler added trailers (sent after a chunked body). */
export interface WebResponseTrailers {
  trailers: [string, string][];
}

/** Response chunks are cut to at most this size (one generator item each). */
export const WEB_CHUNK_BYTES = 64 * 1024;
/** Response items in flight per web call: with WEB_CHUNK_BYTES, at most 1 MiB per call. */
export const WEB_STREAM_WINDOW = 16;
/** Request bodies up to this size travel inline with the request. */
export const WEB_INLINE_BODY_BYTES = 64 * 1024;
/** Request-body bytes a container asks for at a time (its credit). */
export const WEB_BODY_WINDOW_BYTES = 256 * 1024;
