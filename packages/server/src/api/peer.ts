import {
  CLOSE_PROTOCOL_ERROR,
  CLOSE_UNAUTHENTICATED,
  decodeFrame,
  type EventMap,
  type EventName,
  encodeFrames,
  INLINE_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES,
  type Message,
  PROTOCOL_VERSION,
  ProtocolError,
  type ReplyMessage,
  type RequestMessage,
  type WireErrorBody,
} from "@skiff/protocol";
import type { WebSocket } from "ws";
import type { Principal } from "../auth/tokens.js";
import { StoreCommitError, StoreUnavailableError } from "../store/store.js";
import { SERVER_VERSION } from "../version.js";
import { ApiError } from "./api-error.js";

/** A peer that stops reading is cut off once this much is queued for it (bounded memory). */
const MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
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
  /** How the connection closed (1000: the client said goodbye; 1006: it was lost). */
  closeCode = 0;
  /** Generator calls streaming to this connection: only it may acknowledge them. */
  readonly streams = new Set<string>();
  /** Maps this connection started: only it may feed them; they end with it. */
  readonly maps = new Set<string>();
  /** Log follows by subscription id. */
  readonly subscriptions = new Map<string, () => void>();
  private outbox: Message[] = [];
  private flushScheduled = false;
  private lastBuffered = 0;
  private closed = false;
  private pendingRequests = 0;
  private paused = false;
  /** Messages that came while hello was being checked (the token is read from the store). */
  private early: Message[] | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly hooks: PeerHooks,
    /** Where it connected from ("unix" on the control socket). */
    readonly remoteAddress = "unix",
  ) {
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

  private reply(id: number, r: unknown): void {
    this.push({ t: "reply", id, ok: true, r } as ReplyMessage);
  }

  private replyError(id: number, error: WireErrorBody): void {
    this.push({ t: "reply", id, ok: false, error } as ReplyMessage);
  }

  private push(msg: Message): void {
    if (this.closed) return;
    this.outbox.push(msg);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.outbox.length === 0) return;
    // What the peer has not read stays in memory here. Past the limit, and with no progress
    // since the last flush (a slow reader drains; a stalled one does not), it is cut off.
    const buffered = this.ws.bufferedAmount;
    if (buffered > MAX_BUFFERED_BYTES && buffered >= this.lastBuffered) {
      this.hooks.log("a peer stopped reading: closing its connection");
      this.ws.terminate();
      return;
    }
    const batch = this.outbox;
    this.outbox = [];
    for (const frame of encodeFrames(batch)) this.ws.send(frame);
    this.lastBuffered = this.ws.bufferedAmount;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    let msgs: Message[];
    try {
      if (!isBinary) throw new ProtocolError("text frames are not part of the protocol");
      msgs = decodeFrame(data);
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
        if (this.closed) return;
        this.principal = principal;
        this.reply(req.id, {
          serverVersion: SERVER_VERSION,
          limits: { maxPayloadBytes: MAX_PAYLOAD_BYTES, inlinePayloadBytes: INLINE_PAYLOAD_BYTES },
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
    if (result instanceof Promise) {
      if (++this.pendingRequests >= MAX_PENDING_REQUESTS && !this.paused) {
        this.paused = true;
        this.ws.pause();
      }
      result.then(
        (r) => {
          this.settled();
          this.reply(m.id, r);
        },
        (err) => {
          this.settled();
          this.fail(m, err);
        },
      );
    } else this.reply(m.id, result);
  }

  /** A pending request was answered: reading resumes once half of the limit is free. */
  private settled(): void {
    if (--this.pendingRequests <= MAX_PENDING_REQUESTS / 2 && this.paused) {
      this.paused = false;
      this.ws.resume();
    }
  }

  private fail(m: RequestMessage, err: unknown): void {
    if (err instanceof ApiError || err instanceof StoreCommitError || err instanceof StoreUnavailableError) {
      const e = asApiError(err);
      this.replyError(m.id, { code: e.code, message: e.message });
      return;
    }
    if (err instanceof ApiError) {
      this.replyError(m.id, { code: err.code, message: err.message });
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

/** Errors a client is told as they are: the API's own, and a failed store commit (try again). */
function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreCommitError || err instanceof StoreUnavailableError)
    return new ApiError("unavailable", err.message);
  return new ApiError("internal", (err as Error)?.message ?? String(err));
}
