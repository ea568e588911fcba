import type { ServerResponse } from "node:http";
import {
  decodePayload,
  type Payload,
  type ResultWire,
  type WebResponseHead,
  type WebResponseTrailers,
} from "@skiff/protocol";
import type { Endpoint } from "./endpoints.js";
import { HttpError, sendError } from "./http-error.js";

/** Body bytes a call with no reader keeps (its handler pauses past this, by the ack window). */
const PARKED_BYTES = 256 * 1024;

/**
 * Response headers that describe one hop, not the response: the gateway's own Node server sets
 * them for its connection (chunked only when the handler streams, as Node would).
 */
export const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]);

/** Statuses whose responses have no body (Node sends none for them either). */
const NO_BODY_STATUS = new Set([204, 304]);

/** Whole bodies up to this size leave in the same write as the head (see endWhole). */
const ONE_WRITE_BYTES = 16 * 1024;

/**
 * Ends a response with its whole body. Node writes the head and a string body as one string
 * (one write); a byte body goes as a second chunk, through a corked writev that costs about as
 * much CPU again as the rest of a small response. latin1 maps each byte to one character and
 * back, so any bytes leave unchanged, and Content-Length (the string's latin1 length) is right.
 */
function endWhole(res: ServerResponse, body: Uint8Array): void {
  if (body.byteLength === 0 || body.byteLength > ONE_WRITE_BYTES) res.end(body);
  else res.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("latin1"), "latin1");
}

/** What a web call needs from the gateway. */
export interface WebCallHost {
  /** The reader took `n` more items: the handler may go on. */
  ack(callId: string, n: number): void;
  cancel(callId: string): void;
  /** The call failed without a response: say why in the server and app logs. */
  logFailure(call: WebCall, why: string): void;
  /** The reader's wait cap no longer applies: answered, passed (303), detached, or the client left. */
  uncap(call: WebCall): void;
}

/**
 * One web request in flight: the items of its generator call become an HTTP response. While a
 * client is attached, items are written as they come and acknowledged once written (after
 * 'drain' when the socket is full), so a slow client slows the handler. With no client (a 303
 * or 202 was answered), up to PARKED_BYTES are kept for the result URL and the handler waits.
 */
export class WebCall {
  head: WebResponseHead | undefined;
  end: ResultWire | undefined;
  /** Body chunks kept while no reader is attached (the reader gets them first). */
  private kept: Uint8Array[] = [];
  private keptBytes = 0;
  /** Every chunk so far is in `kept`: the whole response can be read again. */
  replayable = true;
  /** Set once the call has a result URL (303, 202). */
  keepForReplay = false;
  private unacked = 0;
  private reader: ServerResponse | undefined;
  private blocked = false;
  /** Set when the call is over and its response fully written or kept. */
  settledAt = 0;
  /**
   * The call's own end arrived (its output). A response whose head says it is whole settles
   * before that: the end may come in a later frame from the container.
   */
  callEnded = false;

  private capTimer: NodeJS.Timeout | undefined;
  /** The response could not be sent (a bad head): whatever else comes is dropped. */
  private broken = false;

  constructor(
    readonly callId: string,
    readonly requestId: string,
    readonly endpoint: Endpoint,
    /** Headers the gateway adds to every response of this call (request id, CORS). */
    readonly extra: Record<string, string>,
    private readonly host: WebCallHost,
  ) {}

  /**
   * Calls `onCap` if the call is not answered within `ms` while this reader waits. (A timer
   * each: Node keeps same-length timers in one list, so arming and clearing one costs less
   * than keeping them in a Map here, measured.)
   */
  armCap(ms: number, onCap: () => void): void {
    this.capTimer = setTimeout(() => {
      this.capTimer = undefined;
      this.host.uncap(this);
      if (!this.answered && this.reader) onCap();
    }, ms);
  }

  /** The reader waits under a cap: answered 303 if no head comes within it. */
  get capped(): boolean {
    return this.capTimer !== undefined;
  }

  private disarm(): void {
    if (!this.capTimer) return;
    clearTimeout(this.capTimer);
    this.capTimer = undefined;
    this.host.uncap(this);
  }

  get attached(): boolean {
    return this.reader !== undefined;
  }

  /** The response head arrived, or the call ended without one. */
  get answered(): boolean {
    return this.head !== undefined || this.end !== undefined;
  }

  /** Items from the handler (the sink of the generator call). */
  onItems(items: Payload[], end?: ResultWire): void {
    if (this.broken) return;
    for (const p of items) {
      let item: unknown;
      try {
        item = p instanceof Uint8Array ? decodePayload(p) : undefined;
      } catch {
        item = undefined;
      }
      this.unacked++;
      if (!this.head) {
        const h = item as WebResponseHead | undefined;
        if (!h || typeof h.status !== "number" || !Array.isArray(h.headers)) {
          this.host.logFailure(this, "the handler's first item was not a response head");
          this.host.cancel(this.callId);
          this.end = { status: "failure", error: new Uint8Array() };
          break;
        }
        this.head = h;
        if (h.end) this.end ??= { status: "success", data: new Uint8Array() };
        if (this.reader && h.end && !this.keepForReplay) {
          // A whole response in one item: head and body leave in one write.
          if (!this.writeWholeFast(this.reader, h)) this.writeHead(this.reader, h.body ?? new Uint8Array());
          this.settledAt = Date.now();
          continue;
        }
        if (this.reader) this.writeHead(this.reader);
        if (h.body) this.chunk(h.body);
      } else if (item instanceof Uint8Array) {
        this.chunk(item);
      } else if (item && typeof item === "object" && Array.isArray((item as WebResponseTrailers).trailers)) {
        this.trailers(item as WebResponseTrailers);
      }
    }
    if (end) this.callEnded = true;
    if (end && !this.end) this.end = end;
    if (this.capTimer && this.answered) this.disarm();
    if (this.end) this.finish();
    this.maybeAck();
  }

  private chunk(c: Uint8Array): void {
    const res = this.reader;
    // With no reader, everything is kept (the ack window bounds it); a parked call also keeps
    // a small whole response while it is read, so its result URL can answer again.
    const keep = !res || (this.keepForReplay && this.replayable && this.keptBytes + c.byteLength <= PARKED_BYTES);
    if (keep) {
      this.kept.push(c);
      this.keptBytes += c.byteLength;
    } else this.replayable = false;
    if (res && this.head && !res.writableEnded && res.req.method !== "HEAD" && !res.write(c)) this.waitDrain(res);
  }

  private waitDrain(res: ServerResponse): void {
    if (this.blocked) return;
    this.blocked = true;
    res.once("drain", () => {
      this.blocked = false;
      this.maybeAck();
    });
  }

  private maybeAck(): void {
    if (this.unacked === 0 || this.blocked || this.end) return;
    if (!this.reader && this.keptBytes >= PARKED_BYTES) return;
    const n = this.unacked;
    this.unacked = 0;
    this.host.ack(this.callId, n);
  }

  /**
   * The whole response, when the call succeeded and every byte of it is still here (a result
   * URL's response of up to 256 KiB): what the gateway stores for later reads.
   */
  wholeResponse(): { status: number; headers: [string, string][]; body: Uint8Array } | undefined {
    if (!this.head || this.end?.status !== "success" || !this.replayable) return undefined;
    return { status: this.head.status, headers: this.head.headers, body: Buffer.concat(this.kept) };
  }

  /**
   * Makes `res` the reader: what was kept is written, the rest follows as it comes.
   * Returns false if the kept part is gone (another reader took it).
   */
  attach(res: ServerResponse): boolean {
    if (this.reader || (!this.replayable && this.settledAt)) return false;
    this.reader = res;
    res.on("close", () => {
      if (this.reader !== res) return;
      this.disarm();
      this.reader = undefined;
      // The client left mid-response: nobody will read the rest.
      if (!res.writableFinished && !this.end) this.host.cancel(this.callId);
    });
    if (this.head) {
      this.writeHead(res);
      for (const c of this.kept)
        if (!res.writableEnded && res.req.method !== "HEAD" && !res.write(c)) this.waitDrain(res);
      if (!this.replayable) this.kept = [];
    }
    if (this.end) this.finish();
    this.maybeAck();
    return true;
  }

  /** The wait cap passed with no head: the client is answered otherwise (303). */
  detach(): void {
    this.disarm();
    this.reader = undefined;
  }

  /** Trailers after a chunked body, as the handler added them. */
  private trailers(t: WebResponseTrailers): void {
    const res = this.reader;
    if (!res || res.writableEnded) return;
    try {
      res.addTrailers(t.trailers.map(([k, v]): [string, string] => [String(k), String(v)]));
    } catch (err) {
      this.host.logFailure(this, `its trailers were invalid: ${(err as Error).message}`);
    }
  }

  /**
   * The common small whole response (no HEAD, a body-bearing status, a body that goes in one
   * write, no Content-Disposition: Node re-encodes that one by the body's length) written with
   * one writeHead of a flat header list: no header map is built, and Node validates and
   * stores each pair once. Node sends the pairs in the handler's order and spelling, then its
   * Date and Connection. Content-Length, when the handler set none, ends the list: before Date
   * and Connection, where Node puts its own after them (the order of different names carries no
   * meaning in HTTP). False: nothing was written, use writeHead.
   */
  private writeWholeFast(res: ServerResponse, h: WebResponseHead): boolean {
    const body = h.body;
    const size = body ? body.byteLength : 0;
    const status = h.status;
    if (
      size > ONE_WRITE_BYTES ||
      res.req.method === "HEAD" ||
      !Number.isInteger(status) ||
      status < 200 ||
      status > 599 ||
      NO_BODY_STATUS.has(status) ||
      res.headersSent
    )
      return false;
    const flat: string[] = [];
    let hasLength = false;
    let hasRequestId = false;
    let hasCors = false;
    for (const [k, v] of h.headers) {
      const name = String(k);
      const lower = name.toLowerCase();
      if (HOP_HEADERS.has(lower)) continue;
      if (lower === "content-disposition") return false;
      if (lower === "content-length") hasLength = true;
      else if (lower === "skiff-request-id") hasRequestId = true;
      else if (lower.startsWith("access-control-")) hasCors = true;
      flat.push(name, String(v));
    }
    // Headers the gateway adds unless the handler set them (request id, CORS): checked by name.
    for (const k in this.extra) {
      const set =
        k === "skiff-request-id"
          ? hasRequestId
          : (hasCors || !k.startsWith("access-control-")) && this.named(h.headers, k);
      if (!set) flat.push(k, this.extra[k]!);
    }
    if (!hasLength) flat.push("Content-Length", String(size));
    try {
      if (typeof h.statusText === "string" && h.statusText) res.writeHead(status, h.statusText, flat);
      else res.writeHead(status, flat);
    } catch {
      // A header or reason phrase Node refuses: nothing was stored (Node validates the whole
      // head before it keeps it), and writeHead logs why and answers 502.
      res.statusMessage = "";
      return false;
    }
    if (size === 0) res.end();
    else res.end(Buffer.from(body!.buffer, body!.byteOffset, size).toString("latin1"), "latin1");
    return true;
  }

  /** Whether the handler's headers hold `lower` (a lower-case name). */
  private named(headers: [string, string][], lower: string): boolean {
    for (const [k] of headers) if (String(k).toLowerCase() === lower) return true;
    return false;
  }

  /**
   * Writes the head; with `whole`, also that body and the end of the response. The head is set
   * on the gateway's own ServerResponse as the handler set it on its own (names as spelled,
   * order, repeats, reason phrase), so Node adds Content-Length or chunking as it would have:
   * a whole body gets its length, a streamed one without a length goes chunked.
   */
  private writeHead(res: ServerResponse, whole?: Uint8Array): void {
    const h = this.head!;
    const status = Number.isInteger(h.status) && h.status >= 200 && h.status <= 599 ? h.status : 502;
    try {
      res.statusCode = status;
      if (typeof h.statusText === "string" && h.statusText) res.statusMessage = h.statusText;
      const grouped = new Map<string, { name: string; values: string[] }>();
      for (const [k, v] of h.headers) {
        const name = String(k);
        const lower = name.toLowerCase();
        if (HOP_HEADERS.has(lower)) continue;
        const g = grouped.get(lower);
        if (g) g.values.push(String(v));
        else grouped.set(lower, { name, values: [String(v)] });
      }
      for (const { name, values } of grouped.values()) res.setHeader(name, values.length === 1 ? values[0]! : values);
      for (const k in this.extra) if (!res.hasHeader(k)) res.setHeader(k, this.extra[k]!);
      // A whole response read from what was kept (a result URL) is written in parts: say its length.
      if (h.end && !whole && !res.hasHeader("content-length") && !NO_BODY_STATUS.has(status))
        res.setHeader("content-length", String(h.body?.byteLength ?? 0));
    } catch (err) {
      // A header Node refuses (bad name or value): the handler's response cannot be sent.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      res.statusMessage = "";
      this.host.logFailure(this, `its response head was invalid: ${(err as Error).message}`);
      this.end = { status: "failure", error: new Uint8Array() };
      this.broken = true;
      this.host.cancel(this.callId);
      sendError(
        res,
        new HttpError(502, "bad_gateway", `the endpoint sent an invalid response head (request ${this.requestId})`),
        this.extra,
        this.requestId,
      );
      return;
    }
    if (h.end) {
      if (whole === undefined) return;
      if (res.req.method === "HEAD" || NO_BODY_STATUS.has(status)) res.end();
      else endWhole(res, whole);
      return;
    }
    // Chunks must reach the client as they are produced (server-sent events).
    res.flushHeaders();
  }

  private finish(): void {
    const res = this.reader;
    if (res?.writableEnded) return;
    if (!res) {
      this.settledAt ||= Date.now();
      return;
    }
    const end = this.end!;
    if (this.head) {
      if (end.status === "success") res.end();
      else res.destroy(); // cut short: the client must not take a partial body as whole
    } else {
      const why = end.status === "timeout" ? end.message : `the call ended with status ${end.status}`;
      this.host.logFailure(this, why);
      const err =
        end.status === "timeout"
          ? new HttpError(504, "timeout", `the endpoint timed out; see the app's logs for request ${this.requestId}`)
          : new HttpError(500, "internal", `the endpoint failed; see the app's logs for request ${this.requestId}`);
      sendError(res, err, this.extra, this.requestId);
    }
    this.settledAt ||= Date.now();
    if (!this.replayable) this.kept = [];
  }
}
