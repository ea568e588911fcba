import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { WebRequestWire, WebResponseHead } from "@skiff/protocol";
import { HandlerSocket } from "./handler-socket.js";
import { connReset, feedBody, nodeRequest } from "./node-request.js";
import { internalErrorItem, slices, type WebItem, wholeItems } from "./response-items.js";
import { serveUpgrade } from "./tunnel.js";

/** Any Node `(req, res)` handler: an Express app, Fastify's handler, a plain function. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Bytes a handler may write ahead of the client before `res.write` returns false. */
const HIGH_WATER = 64 * 1024;

type Event =
  | { head: true }
  | { whole: Uint8Array }
  | { chunk: Uint8Array }
  | { trailers: [string, string][] }
  | { end: true }
  | { error: unknown };

/** What the handler wrote, in order, until the web call takes it; `write` reports when it is full. */
class OutQueue {
  private readonly events: Event[] = [];
  bytes = 0;
  private wake: (() => void) | undefined;
  constructor(private readonly onDrain: () => void) {}

  push(e: Event): void {
    this.events.push(e);
    if ("chunk" in e) this.bytes += e.chunk.byteLength;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async next(): Promise<Event> {
    for (;;) {
      const e = this.events.shift();
      if (e) {
        if ("chunk" in e) {
          const was = this.bytes;
          this.bytes -= e.chunk.byteLength;
          if (was >= HIGH_WATER && this.bytes < HIGH_WATER) this.onDrain();
        }
        return e;
      }
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
}

function toBytes(chunk: unknown, encoding: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string")
    return Buffer.from(chunk, (typeof encoding === "string" ? encoding : "utf8") as BufferEncoding);
  throw new TypeError(`res.write/end take a string or bytes, got ${typeof chunk}`);
}

/** The response's headers in the handler's order and spelling, a list value as repeats. */
function headerPairs(res: ServerResponse): [string, string][] {
  const out: [string, string][] = [];
  // getRawHeaderNames (Node 15.13+) is missing from the typings of Node 20.
  for (const name of (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
    const v = res.getHeader(name);
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push([name, String(x)]);
    else out.push([name, String(v)]);
  }
  return out;
}

/** What `nodeHttpApp`'s factory gives: a handler, or an http.Server that is not listening. */
export type NodeApp = NodeHandler | Server;

/**
 * Runs a Node handler on a real IncomingMessage and ServerResponse whose socket is a
 * HandlerSocket: the response's write/end/writeHead are replaced on the instance to hand the
 * head and chunks to the call. An http.Server gets the request as its 'request' event, and an
 * upgrade as its 'upgrade' event when it listens for one (else as a request, as Node does).
 */
export async function* serveNode(
  w: WebRequestWire,
  app: NodeApp,
  ids: { callId: string; inputId: string },
  signal: AbortSignal,
): AsyncGenerator<WebItem> {
  const http = await import("node:http");
  const socket = new HandlerSocket(w);
  const req = nodeRequest(w, socket);
  const server = typeof app === "function" ? undefined : app;
  if (w.upgrade && server && server.listenerCount("upgrade") > 0) {
    yield* serveUpgrade(w, req, socket, ids, signal, (r, s) => server.emit("upgrade", r, s, Buffer.alloc(0)));
    return;
  }
  const bodyHere = feedBody(req, w, ids, signal);
  const res = new http.ServerResponse(req);
  // Frameworks look at res.socket (on-finished, destroy); it never carries the response itself.
  (res as { socket: unknown }).socket = socket;
  const q = new OutQueue(() => res.emit("drain"));
  let headSent = false;
  let ended = false;
  let trailers: [string, string][] | undefined;
  const startHead = () => {
    if (headSent) return;
    headSent = true;
    q.push({ head: true });
  };
  socket.onDestroy = (err) => {
    // The handler (or its framework, after an error past the head) cut the connection.
    if (!ended) q.push({ error: err ?? new Error("the handler destroyed the socket before ending its response") });
  };
  Object.defineProperty(res, "headersSent", { get: () => headSent, configurable: true });
  res.writeHead = ((status: number, a?: unknown, b?: unknown) => {
    if (headSent)
      throw Object.assign(new Error("Cannot write headers after they are sent to the client"), {
        code: "ERR_HTTP_HEADERS_SENT",
      });
    const given = typeof a === "string" ? b : a;
    res.statusCode = status;
    if (typeof a === "string") res.statusMessage = a;
    if (Array.isArray(given)) {
      // [k, v, k, v] or [[k, v], …]
      if (Array.isArray(given[0])) for (const [k, v] of given as [string, string][]) res.appendHeader(k, v);
      else for (let i = 0; i + 1 < given.length; i += 2) res.appendHeader(String(given[i]), String(given[i + 1]));
    } else if (given && typeof given === "object") {
      for (const [k, v] of Object.entries(given)) if (v !== undefined) res.setHeader(k, v as string | string[]);
    }
    startHead();
    return res;
  }) as typeof res.writeHead;
  res.flushHeaders = () => startHead();
  // The gateway's own server answered `Expect: 100-continue` before the request came here.
  res.writeContinue = () => {};
  res.writeProcessing = () => {};
  res.addTrailers = (h) => {
    trailers ??= [];
    if (Array.isArray(h)) for (const [k, v] of h as [string, string][]) trailers.push([k, String(v)]);
    else for (const [k, v] of Object.entries(h)) if (v !== undefined) trailers.push([k, String(v)]);
  };
  res.write = ((chunk: unknown, enc?: unknown, cb?: unknown) => {
    if (ended) throw Object.assign(new Error("write after end"), { code: "ERR_STREAM_WRITE_AFTER_END" });
    startHead();
    const bytes = toBytes(chunk, enc);
    if (bytes.byteLength > 0) q.push({ chunk: bytes });
    const done = typeof enc === "function" ? enc : cb;
    if (typeof done === "function") queueMicrotask(() => (done as () => void)());
    return q.bytes < HIGH_WATER;
  }) as typeof res.write;
  res.end = ((chunk?: unknown, enc?: unknown, cb?: unknown) => {
    if (ended) return res;
    const done = [chunk, enc, cb].find((x) => typeof x === "function") as (() => void) | undefined;
    const bytes =
      chunk !== undefined && chunk !== null && typeof chunk !== "function" ? toBytes(chunk, enc) : undefined;
    ended = true;
    if (!headSent) {
      // Head and body in one: the body's length is known, as Node would send it.
      headSent = true;
      q.push({ whole: bytes ?? new Uint8Array() });
    } else if (bytes && bytes.byteLength > 0) q.push({ chunk: bytes });
    if (trailers) q.push({ trailers });
    q.push({ end: true });
    res.finished = true;
    process.nextTick(() => {
      res.emit("prefinish");
      res.emit("finish");
      done?.();
      req.emit("close");
      res.emit("close");
    });
    return res;
  }) as typeof res.end;
  Object.defineProperty(res, "writableEnded", { get: () => ended, configurable: true });

  const gone = () => {
    if (ended) return;
    ended = true;
    // As Node's server when the client goes away: 'aborted' and an ECONNRESET error on an
    // unfinished request, 'close' on both.
    if (!req.destroyed) req.destroy(req.complete ? undefined : connReset());
    socket.onDestroy = undefined;
    socket.destroy();
    res.emit("close");
  };
  signal.addEventListener("abort", gone, { once: true });
  try {
    try {
      const r = server ? server.emit("request", req, res) : (app as NodeHandler)(req, res);
      if (r instanceof Promise) r.catch((err: unknown) => q.push({ error: err }));
    } catch (err) {
      q.push({ error: err });
    }
    bodyHere();
    for (;;) {
      const e = await q.next();
      if ("head" in e) yield head(res);
      else if ("whole" in e) yield* wholeItems(head(res), e.whole, req.method === "HEAD");
      else if ("chunk" in e) yield* slices(e.chunk);
      else if ("trailers" in e) yield { trailers: e.trailers };
      else if ("end" in e) return;
      else {
        console.error(`request ${w.requestId} failed:`, e.error);
        if (!headSent) yield internalErrorItem(w.requestId);
        // Past the head, the client sees the response cut short.
        else throw e.error;
        return;
      }
    }
  } finally {
    signal.removeEventListener("abort", gone);
    gone();
  }
}

function head(res: ServerResponse): WebResponseHead {
  const h: WebResponseHead = { status: res.statusCode, headers: headerPairs(res) };
  if (res.statusMessage) h.statusText = res.statusMessage;
  return h;
}
