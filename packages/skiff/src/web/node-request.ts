import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import type { WebRequestWire } from "@skiff/protocol";
import type { HandlerSocket } from "./handler-socket.js";
import { openRequestBody } from "./request-body.js";

/**
 * node:http, loaded by `require` on first use rather than by a static `import`: on Node 22 and
 * later the ES module facade of node:http reads every export, the lazy `http.WebSocket` among
 * them, which loads undici: ~35 ms of CPU in every container's start (bench/RESULTS.md).
 */
let http: typeof import("node:http") | undefined;
const nodeHttp = () => (http ??= createRequire(import.meta.url)("node:http") as typeof import("node:http"));

/** Node's own header-line rules (repeats joined, dropped or listed as Node does), when present. */
type WithHeaderLines = IncomingMessage & { _addHeaderLines?: (raw: string[], n: number) => void };

/** Headers as Node builds `req.headers` from raw lines, for runtimes without its internal. */
const FIRST_WINS = new Set([
  "age",
  "authorization",
  "content-length",
  "content-type",
  "etag",
  "expires",
  "from",
  "host",
  "if-modified-since",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "referer",
  "retry-after",
  "server",
  "user-agent",
]);

function headerObject(raw: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    const v = raw[i + 1]!;
    const prev = out[k];
    if (k === "set-cookie") out[k] = [...((prev as string[] | undefined) ?? []), v];
    else if (prev === undefined) out[k] = v;
    else if (!FIRST_WINS.has(k)) out[k] = `${prev}${k === "cookie" ? "; " : ", "}${v}`;
  }
  return out;
}

/**
 * A real IncomingMessage for the request (Express swaps prototypes, so a look-alike would not
 * do): the method, URL, HTTP version and header lines exactly as the client sent them.
 */
export function nodeRequest(w: WebRequestWire, socket: HandlerSocket): IncomingMessage {
  const req = new (nodeHttp().IncomingMessage)(socket as never) as WithHeaderLines;
  req.method = w.method;
  req.url = w.url;
  const version = w.httpVersion ?? "1.1";
  req.httpVersion = version;
  req.httpVersionMajor = Number(version.split(".")[0]) || 1;
  req.httpVersionMinor = Number(version.split(".")[1]) || 0;
  const raw = w.headers.flat();
  if (typeof req._addHeaderLines === "function") req._addHeaderLines(raw, raw.length);
  else {
    req.rawHeaders = raw;
    req.headers = headerObject(raw);
  }
  return req;
}

/**
 * Feeds the request body to `req` as the handler reads it (one pull per demand). Call before
 * the handler runs (its reads must find this `_read`), and the function it returns right after
 * the handler's synchronous part: as with Node's parser, a body already here (and
 * `req.complete`) comes just after the 'request' event.
 */
export function feedBody(
  req: IncomingMessage,
  w: WebRequestWire,
  ids: { callId: string; inputId: string },
  signal: AbortSignal,
): () => void {
  const finish = () => {
    req.complete = true;
    req.push(null);
  };
  if (w.body.kind !== "stream" || w.upgrade) {
    req._read = () => {};
    const b = w.upgrade ? undefined : w.body;
    return () => {
      if (req.destroyed) return;
      if (b?.kind === "bytes") req.push(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));
      else if (b?.kind === "json") req.push(Buffer.from(JSON.stringify(b.value)));
      finish();
    };
  }
  const reader = openRequestBody(ids.callId, ids.inputId, signal).getReader();
  let reading = false;
  req._read = () => {
    if (reading) return;
    reading = true;
    reader.read().then(
      ({ done, value }) => {
        reading = false;
        if (done) finish();
        else if (req.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) req._read(0);
      },
      // As Node's server does when the client breaks off: 'aborted', then an ECONNRESET error.
      (err: unknown) => req.destroy(connReset((err as Error).message)),
    );
  };
  return () => {};
}

/** The error Node gives a request whose client went away. */
export function connReset(detail?: string): Error {
  const e = new Error("aborted") as Error & { code: string };
  e.code = "ECONNRESET";
  if (detail) e.cause = detail;
  return e;
}
