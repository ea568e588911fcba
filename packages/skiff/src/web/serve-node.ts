import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { WebRequestWire } from "@skiff/protocol";
import { openRequestBody } from "./request-body.js";
import { internalErrorItem, slices, type WebItem } from "./response-items.js";

/** Any Node `(req, res)` handler: an Express app, Fastify's handler, a plain function. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Bytes a handler may write ahead of the client before `res.write` returns false. */
const HIGH_WATER = 64 * 1024;

type Event = { head: true } | { chunk: Uint8Array } | { end: true } | { error: unknown };

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

function headerPairs(h: OutgoingHttpHeaders): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push([k, String(x)]);
    else out.push([k, String(v)]);
  }
  return out;
}

/**
 * Runs a Node handler on a real IncomingMessage and ServerResponse (Express swaps their
 * prototypes, so look-alikes would not do) whose socket is never used: the response's
 * write/end/writeHead are replaced on the instance to hand the head and chunks to the call.
 */
export async function* serveNode(
  w: WebRequestWire,
  handler: NodeHandler,
  ids: { callId: string; inputId: string },
  signal: AbortSignal,
): AsyncGenerator<WebItem> {
  const http = await import("node:http");
  const net = await import("node:net");
  const req = new http.IncomingMessage(new net.Socket());
  req.method = w.method;
  req.url = w.url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = "1.1";
  const headers: Record<string, string | string[]> = {};
  const raw: string[] = [];
  for (const [k, v] of w.headers) {
    raw.push(k, v);
    const prev = headers[k];
    if (k === "set-cookie") headers[k] = [...((prev as string[] | undefined) ?? []), v];
    else headers[k] = prev === undefined ? v : `${prev}, ${v}`;
  }
  req.headers = headers;
  req.rawHeaders = raw;
  feedBody(req, w, ids, signal);

  const res = new http.ServerResponse(req);
  const q = new OutQueue(() => res.emit("drain"));
  let headSent = false;
  let ended = false;
  const startHead = () => {
    if (headSent) return;
    headSent = true;
    q.push({ head: true });
  };
  Object.defineProperty(res, "headersSent", { get: () => headSent, configurable: true });
  res.writeHead = ((status: number, a?: unknown, b?: unknown) => {
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
  res.write = ((chunk: unknown, enc?: unknown, cb?: unknown) => {
    if (ended) throw new Error("write after end");
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
    if (chunk !== undefined && chunk !== null && typeof chunk !== "function") {
      startHead();
      const bytes = toBytes(chunk, enc);
      if (bytes.byteLength > 0) q.push({ chunk: bytes });
    }
    startHead();
    ended = true;
    res.finished = true;
    q.push({ end: true });
    process.nextTick(() => {
      res.emit("finish");
      res.emit("close");
      done?.();
    });
    return res;
  }) as typeof res.end;

  const gone = () => {
    if (!ended) {
      req.emit("aborted");
      req.emit("close");
      res.emit("close");
    }
  };
  signal.addEventListener("abort", gone, { once: true });
  try {
    try {
      const r = handler(req, res);
      if (r instanceof Promise) r.catch((err: unknown) => q.push({ error: err }));
    } catch (err) {
      q.push({ error: err });
    }
    for (;;) {
      const e = await q.next();
      if ("head" in e) yield { status: res.statusCode, headers: headerPairs(res.getHeaders()) };
      else if ("chunk" in e) yield* slices(e.chunk);
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

function feedBody(
  req: IncomingMessage,
  w: WebRequestWire,
  ids: { callId: string; inputId: string },
  signal: AbortSignal,
) {
  const finish = () => {
    req.complete = true;
    req.push(null);
  };
  if (w.body.kind === "none") finish();
  else if (w.body.kind === "bytes") {
    req.push(Buffer.from(w.body.data.buffer, w.body.data.byteOffset, w.body.data.byteLength));
    finish();
  } else if (w.body.kind === "json") {
    req.push(Buffer.from(JSON.stringify(w.body.value)));
    finish();
  } else {
    const reader = openRequestBody(ids.callId, ids.inputId, signal).getReader();
    let reading = false;
    // The handler's reads pull the body from the control plane, one chunk per demand.
    req._read = () => {
      if (reading) return;
      reading = true;
      reader.read().then(
        ({ done, value }) => {
          reading = false;
          if (done) finish();
          else if (req.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) req._read(0);
        },
        (err: unknown) => req.destroy(err as Error),
      );
    };
  }
}
