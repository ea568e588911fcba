import {
  agreeHot,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_UNAUTHENTICATED,
  decodeFrame,
  type EventMap,
  type EventName,
  encodeFrames,
  hotOutcome,
  INLINE_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES,
  type Message,
  type Outgoing,
  PROTOCOL_VERSION,
  ProtocolError,
  type ReplyMessage,
  type RequestMessage,
  type WireErrorBody,
} from "@skiff/protocol";
import type { Principal } from "../auth/tokens.js";
import { SERVER_VERSION } from "../version.js";
import { ApiError, knownError } from "./api-error.js";
import type { PeerSocket } from "./framed-socket.js";
import { FreshKeys } from "./fresh-keys.js";
import { outgoingSize } from "./outgoing-size.js";
import { releaseMemorySoon } from "./release-memory.js";
import { type ByteSource, replyPrefix, StreamedBytes } from "./streamed-bytes.js";

/** WebSocket close code for a peer cut off by a limit (1008: policy violation). */
export const CLOSE_POLICY = 1008;

export interface PeerLimits {
  /**
   * Bytes queued for one connection (messages not yet sent plus the socket's unsent buffer).
   * Checked as each message is queued: past it the connection is closed, and what was queued
   * for it is dropped. @defaultValue 128 MiB
   */
  maxQueuedBytes: number;
  /** A connection with bytes waiting that takes none of them for this long is closed. @defaultValue 60_000 */
  stallMs: number;
  /** A connection that has not sent a valid hello by then is closed. @defaultValue 5_000 */
  helloTimeoutMs: number;
}

export const DEFAULT_PEER_LIMITS: PeerLimits = {
  maxQueuedBytes: 128 * 1024 * 1024,
  stallMs: 60_000,
  helloTimeoutMs: 5_000,
};

/** Admission of an authenticated connection (caps on the public listener). */
export type Admit = () => { admitted: boolean; closed(): void };

/** A streamed reply is read and sent this many bytes at a time. */
const STREAM_CHUNK = 1024 * 1024;
/** Bytes waiting for a peer above which its next large read (a blob part) waits. */
const HEAVY_AHEAD_BYTES = 16 * 1024 * 1024;
/**
 * Requests of one connection still waiting for their reply (awaited `.remote` calls, mostly).
 * At this many the server stops reading from the connection until half have been answered:
 * a client firing millions of calls at once is slowed by TCP, not held in server memory.
 */
const MAX_PENDING_REQUESTS = 50_000;
/** Messages held while hello is checked; a client sends its first request after the reply. */
const MAX_EARLY_MESSAGES = 1024;

export interface PeerHooks {
  /** Verifies hello; returns the principal or throws ApiError. */
  hello(peer: Peer, params: Record<string, unknown>): Promise<Principal>;
  /** Runs right after the hello reply is queued (so what it sends comes after the reply). */
  afterHello(peer: Peer): void;
  request(peer: Peer, msg: RequestMessage): unknown | Promise<unknown>;
  event(peer: Peer, msg: { t: string; b: unknown }): void;
  closed(peer: Peer): void;
  log(msg: string): void;
}

/**
 * One WebSocket connection on the server side: decodes frames, checks hello, routes
 * requests and events, and batches what it sends into one frame per tick.
 */
export class Peer {
  principal: Principal | undefined;
  role: "client" | "container" | "worker" = "client";
  sessionId: string | undefined;
  containerId: string | undefined;
  /** Cleanups run when the connection closes (waiters, log follows). */
  readonly cleanups = new Set<() => void>();
  /** The idempotency keys this connection's client made for it (fresh-keys.ts). */
  readonly callKeys = new FreshKeys();
  /** How the connection closed (1000: the client said goodbye; 1006: it was lost). */
  closeCode = 0;
  /** Generator calls streaming to this connection: only it may acknowledge them. */
  readonly streams = new Set<string>();
  /** Maps this connection started: only it may feed them; they end with it. */
  readonly maps = new Set<string>();
  /** Log follows by subscription id. */
  readonly subscriptions = new Map<string, () => void>();
  /** The hot-path tuples (hot.ts) this peer reads and writes, agreed at hello; 0: objects only. */
  hot = 0;
  private outbox: Outgoing[] = [];
  /** Estimated encoded size of `outbox`. */
  private outboxBytes = 0;
  private flushScheduled = false;
  private closed = false;
  /** Cut off by a limit: nothing more is queued while the close completes. */
  private cutOff = false;
  private pendingRequests = 0;
  private paused = false;
  /** Streamed replies waiting for their turn; one is sent at a time, between batches. */
  private readonly streamQueue: { id: number; reply: StreamedBytes }[] = [];
  /** A pump is sending streamed replies (set before its first await: there is one pump). */
  private pumping = false;
  /** A streamed reply's fragments are being written: batches wait. */
  private streaming = false;
  /** Bytes handed to the socket so far; minus its unsent buffer, what the peer has taken. */
  private sentTotal = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private taken = 0;
  private lastProgressAt = 0;
  private readonly whenClosed: Promise<void>;
  /** Large reads (blob parts) waiting for their turn, and how many run. */
  private readonly heavyQueue: (() => void)[] = [];
  private heavyRunning = 0;
  private readonly limits: PeerLimits;
  private helloTimer: NodeJS.Timeout | undefined;
  private admission: { closed(): void } | undefined;
  /** Messages that came while hello was being checked (the token is read from the store). */
  private early: Message[] | undefined;

  constructor(
    private readonly ws: PeerSocket,
    private readonly hooks: PeerHooks,
    limits: Partial<PeerLimits> = {},
    private readonly admit?: Admit,
    /** Where it connected from ("unix" on the control socket). */
    readonly remoteAddress = "unix",
  ) {
    this.limits = { ...DEFAULT_PEER_LIMITS, ...limits };
    // An idle unauthenticated socket costs a descriptor: it gets a few seconds to say hello.
    this.helloTimer = setTimeout(() => {
      if (!this.principal) this.cut(`no hello within ${this.limits.helloTimeoutMs} ms`);
    }, this.limits.helloTimeoutMs);
    this.helloTimer.unref();
    this.whenClosed = new Promise((r) => ws.once("close", () => r()));
    ws.on("message", (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on("close", (code) => {
      this.closeCode = code;
      this.onClose();
    });
    ws.on("error", (err) => hooks.log(`connection error: ${err.message}`));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  send<N extends EventName>(name: N, body: EventMap[N]): void {
    this.push({ t: name, b: body } as Message);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.close(code, reason.slice(0, 120));
  }

  /**
   * Resolves once what waits to be sent to this peer is under HEAVY_AHEAD_BYTES: a large read
   * is made only for a peer that takes what it was sent (backpressure), so one that stops
   * reading holds that much here, not its byte cap, until the stall check cuts it off.
   * Never resolves for a connection that is closed or cut off (its work is dropped).
   */
  private async roomAhead(): Promise<void> {
    while (this.outboxBytes + this.ws.bufferedAmount > HEAVY_AHEAD_BYTES || this.closed || this.cutOff) {
      if (this.closed || this.cutOff) await new Promise(() => {});
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private reply(id: number, r: unknown): void {
    this.push({ t: "reply", id, ok: true, r } as ReplyMessage);
  }

  /** The reply to request `m`: a `.remote`'s inline outcome as a tuple, to a peer that reads them. */
  private answer(m: RequestMessage, r: unknown): void {
    const tuple = this.hot > 0 && m.t === "call.create" ? hotOutcome(m.id, r) : undefined;
    if (tuple) this.push(tuple);
    else this.reply(m.id, r);
  }

  private replyError(id: number, error: WireErrorBody): void {
    this.push({ t: "reply", id, ok: false, error } as ReplyMessage);
  }

  /**
   * Runs a large read (a blob part) when fewer than two run for this connection: what one
   * connection has read ahead of what it was sent stays small, however many parts it asks
   * for at once. After a cut-off, the waiting ones never run.
   */
  throttle<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        this.heavyRunning++;
        this.roomAhead()
          .then(fn)
          .then(resolve, reject)
          .finally(() => {
            this.heavyRunning--;
            const next = this.heavyQueue.shift();
            if (next && !this.closed && !this.cutOff) next();
          });
      };
      if (this.heavyRunning < 2) run();
      else this.heavyQueue.push(run);
    });
  }

  private push(msg: Outgoing): void {
    if (this.closed || this.cutOff) return;
    // Counted as it is queued: what one connection holds in this process is bounded now,
    // not at the next flush.
    // The same count grants a container the blobs named in what it is sent (auth/blob-grants.ts).
    this.outboxBytes += outgoingSize(msg, this.principal?.blobGrants);
    const queued = this.outboxBytes + this.ws.bufferedAmount;
    if (queued > this.limits.maxQueuedBytes) {
      this.cut(
        `${queued} bytes are queued for this connection, over its limit of ${this.limits.maxQueuedBytes} (is it reading?)`,
      );
      return;
    }
    this.outbox.push(msg);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    // A streamed reply is one WebSocket message in fragments: nothing else may go between them.
    if (this.closed || this.cutOff || this.streaming || this.outbox.length === 0) return;
    // A scoped token is told of a blob (a result's, an upload's id) only once its grant is
    // durable: a client retrying after a crash is then still let read it (auth/stored-grants.ts).
    const saving = this.principal?.blobGrants?.saved();
    if (saving) {
      this.flushScheduled = true;
      saving.then(
        () => this.flush(),
        (err: Error) => {
          this.hooks.log(`a scoped token's blob grants were not stored (lost at a restart): ${err.message}`);
          this.flush();
        },
      );
      return;
    }
    const batch = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    for (const frame of encodeFrames(batch, this.hot > 0)) this.write(frame, true);
  }

  private write(data: Uint8Array, fin: boolean, cb?: (err?: Error) => void): void {
    this.sentTotal += data.byteLength;
    this.ws.send(data, { binary: true, fin }, cb);
    if (!this.stallTimer && this.ws.bufferedAmount > 0) this.watchStall();
  }

  /**
   * While bytes wait in the socket, checks that the peer takes some of them: one that takes
   * none for `stallMs` is cut off (what waits for it is released with the connection).
   */
  private watchStall(): void {
    this.taken = this.sentTotal - this.ws.bufferedAmount;
    this.lastProgressAt = Date.now();
    const every = Math.max(50, Math.min(5000, this.limits.stallMs / 4));
    this.stallTimer = setInterval(() => {
      const buffered = this.ws.bufferedAmount;
      const taken = this.sentTotal - buffered;
      if (taken > this.taken) {
        this.taken = taken;
        this.lastProgressAt = Date.now();
      }
      if (buffered === 0 || this.closed) {
        clearInterval(this.stallTimer);
        this.stallTimer = undefined;
      } else if (Date.now() - this.lastProgressAt > this.limits.stallMs) {
        this.cut(`the peer took none of ${buffered} queued bytes for ${this.limits.stallMs} ms`);
      }
    }, every);
    this.stallTimer.unref();
  }

  /** Closes a connection that broke a limit, with the reason, and frees what waits for it. */
  private cut(reason: string): void {
    if (this.cutOff || this.closed) return;
    this.cutOff = true;
    // What it held is garbage once its socket is gone: collected then (release-memory.ts).
    if (this.outboxBytes + this.ws.bufferedAmount > 16 * 1024 * 1024) void this.whenClosed.then(releaseMemorySoon);
    this.outbox = [];
    this.outboxBytes = 0;
    this.streamQueue.length = 0;
    this.heavyQueue.length = 0;
    this.hooks.log(`closing a connection: ${reason}`);
    // The close frame carries the reason to a peer that still reads; one that does not read
    // never takes it, so the socket (and its buffer) goes shortly after regardless.
    this.ws.close(CLOSE_POLICY, reason.slice(0, 120));
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    let msgs: Message[];
    try {
      if (!isBinary) throw new ProtocolError("text frames are not part of the protocol");
      msgs = decodeFrame(data, this.hot > 0);
    } catch (err) {
      this.hooks.log(`protocol error from a peer: ${(err as Error).message}`);
      this.close(CLOSE_PROTOCOL_ERROR, (err as Error).message);
      return;
    }
    this.onMessages(msgs);
  }

  private onMessages(msgs: Message[]): void {
    for (const m of msgs) {
      if (this.closed) return;
      if (this.early) {
        if (this.early.length >= MAX_EARLY_MESSAGES) {
          this.close(CLOSE_PROTOCOL_ERROR, "too many messages before the hello reply");
          return;
        }
        this.early.push(m);
        continue;
      }
      if (!this.principal) {
        this.onHello(m);
        continue;
      }
      if ("id" in m && m.t !== "reply") {
        if (typeof (m as RequestMessage).id !== "number") {
          this.close(CLOSE_PROTOCOL_ERROR, "request id must be a number");
          return;
        }
        this.onRequest(m as RequestMessage);
      } else if ("b" in m) this.hooks.event(this, m as { t: string; b: unknown });
      else {
        this.close(CLOSE_PROTOCOL_ERROR, `unexpected message ${m.t}`);
        return;
      }
    }
  }

  private onHello(m: Message): void {
    const req = m as RequestMessage;
    if (m.t !== "hello" || typeof req.id !== "number" || req.p === null || typeof req.p !== "object") {
      this.close(CLOSE_PROTOCOL_ERROR, "the first message must be hello");
      return;
    }
    const p = req.p as unknown as Record<string, unknown>;
    if (p.v !== PROTOCOL_VERSION) {
      this.replyError(req.id, {
        code: "protocol",
        message: `protocol version ${String(p.v)} is not supported (server speaks ${PROTOCOL_VERSION})`,
      });
      this.flush();
      this.close(CLOSE_PROTOCOL_ERROR, "unsupported protocol version");
      return;
    }
    this.early = [];
    this.hooks.hello(this, p).then(
      (principal) => {
        if (this.closed || this.cutOff) return;
        const admission = this.admit?.();
        if (admission && !admission.admitted) {
          this.early = undefined;
          this.replyError(req.id, {
            code: "unavailable",
            message: "the server has as many API connections as it accepts (--max-api-connections); try again later",
          });
          this.flush();
          this.close(1013, "too many connections");
          return;
        }
        this.admission = admission;
        clearTimeout(this.helloTimer);
        this.principal = principal;
        // From here on, tuples both ways where the peer said it reads them (an older one: objects).
        this.hot = agreeHot(p.hot);
        this.reply(req.id, {
          serverVersion: SERVER_VERSION,
          limits: { maxPayloadBytes: MAX_PAYLOAD_BYTES, inlinePayloadBytes: INLINE_PAYLOAD_BYTES },
          keyPrefix: this.callKeys.prefix,
          ...(this.hot > 0 ? { hot: this.hot } : {}),
        });
        this.hooks.afterHello(this);
        const early = this.early ?? [];
        this.early = undefined;
        this.onMessages(early);
      },
      (err) => {
        this.early = undefined;
        if (this.closed) return;
        const e = asApiError(err);
        this.replyError(req.id, { code: e.code, message: e.message });
        this.flush();
        this.close(e.code === "unauthenticated" ? CLOSE_UNAUTHENTICATED : CLOSE_PROTOCOL_ERROR, e.message);
      },
    );
  }

  private onRequest(m: RequestMessage): void {
    let result: unknown;
    try {
      if (m.p === null || typeof m.p !== "object")
        throw new ApiError("invalid_argument", `${m.t}: params must be an object`);
      result = this.hooks.request(this, m);
    } catch (err) {
      this.fail(m, err);
      return;
    }
    if (result instanceof StreamedBytes) {
      this.pending();
      this.stream(m.id, result);
    } else if (result instanceof Promise) {
      this.pending();
      result.then(
        (r) => {
          if (r instanceof StreamedBytes) return this.stream(m.id, r);
          this.settled();
          this.answer(m, r);
        },
        (err) => {
          this.settled();
          this.fail(m, err);
        },
      );
    } else this.answer(m, result);
  }

  private pending(): void {
    if (++this.pendingRequests >= MAX_PENDING_REQUESTS && !this.paused) {
      this.paused = true;
      this.ws.pause();
    }
  }

  /** Queues a streamed reply; they go out one at a time, so their sources open one at a time. */
  private stream(id: number, reply: StreamedBytes): void {
    this.streamQueue.push({ id, reply });
    if (!this.pumping) void this.pumpStreams();
  }

  private async pumpStreams(): Promise<void> {
    this.pumping = true;
    while (this.streamQueue.length > 0 && !this.closed && !this.cutOff) {
      const { id, reply } = this.streamQueue.shift()!;
      this.settled();
      let src: ByteSource | undefined;
      try {
        src = await reply.open();
      } catch (err) {
        this.fail({ t: "blob.get", id } as RequestMessage, err);
        continue;
      }
      if (!src) {
        this.replyError(id, { code: "not_found", message: reply.missing });
        continue;
      }
      // What was queued before goes first, then the reply's fragments, with nothing between.
      this.flush();
      this.streaming = true;
      try {
        await this.sendStreamed(id, reply.field, src);
      } catch (err) {
        this.hooks.log(`streaming a reply failed: ${(err as Error).message}`);
        this.ws.terminate();
      } finally {
        this.streaming = false;
      }
    }
    this.pumping = false;
    this.flush();
  }

  /**
   * Sends the reply as one WebSocket message in fragments: a chunk is read only once the one
   * before it has been written to the socket, so at most two chunks per connection are held
   * here, however large the bytes and however slowly the peer reads.
   */
  private async sendStreamed(id: number, field: string, src: ByteSource): Promise<void> {
    const prefix = replyPrefix(id, field, src.size);
    let previous = this.written(prefix, src.size === 0);
    for (let offset = 0; offset < src.size; offset += STREAM_CHUNK) {
      const len = Math.min(STREAM_CHUNK, src.size - offset);
      const chunk = await src.read(offset, len);
      if (chunk.byteLength !== len) throw new Error(`read ${chunk.byteLength} bytes at ${offset}, expected ${len}`);
      if (!(await previous)) return;
      previous = this.written(chunk, offset + len >= src.size);
    }
    await previous;
  }

  /** Writes a fragment; resolves true once the socket took it, false if the connection ended. */
  private written(data: Uint8Array, fin: boolean): Promise<boolean> {
    if (this.closed || this.cutOff) return Promise.resolve(false);
    const done = new Promise<boolean>((resolve) => this.write(data, fin, (err) => resolve(!err)));
    return Promise.race([done, this.whenClosed.then(() => false)]);
  }

  /** A pending request was answered: reading resumes once half of the limit is free. */
  private settled(): void {
    if (--this.pendingRequests <= MAX_PENDING_REQUESTS / 2 && this.paused) {
      this.paused = false;
      this.ws.resume();
    }
  }

  private fail(m: RequestMessage, err: unknown): void {
    const known = knownError(err);
    if (known) {
      this.replyError(m.id, { code: known.code, message: known.message });
      return;
    }
    this.hooks.log(`internal error in ${m.t}: ${(err as Error)?.stack ?? String(err)}`);
    this.replyError(m.id, {
      code: "internal",
      message: `internal error in ${m.t}: ${(err as Error)?.message ?? String(err)}`,
    });
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.stallTimer);
    clearTimeout(this.helloTimer);
    this.admission?.closed();
    this.outbox = [];
    this.streamQueue.length = 0;
    this.heavyQueue.length = 0;
    this.callKeys.close();
    for (const c of this.cleanups) {
      try {
        c();
      } catch (err) {
        this.hooks.log(`cleanup failed: ${(err as Error).message}`);
      }
    }
    this.cleanups.clear();
    this.hooks.closed(this);
  }
}

/** What a client is told of an error: as it is when known (api-error.ts), else an internal error. */
function asApiError(err: unknown): ApiError {
  return knownError(err) ?? new ApiError("internal", (err as Error)?.message ?? String(err));
}
