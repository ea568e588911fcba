import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeCbor, encodeCbor } from "@skiff/protocol";
import type { TokenService } from "../auth/tokens.js";
import { INTERRUPTED_WEB_CALL } from "../engine/recovery.js";
import type { Store } from "../store/store.js";
import { requireToken } from "./auth.js";
import { CORS_HEADERS } from "./cors.js";
import { HttpError, sendError } from "./http-error.js";
import type { WebCall } from "./web-call.js";

/** An unfinished call with a result URL is kept this long after it was parked or last read. */
const RESULT_TTL_MS = 60 * 60 * 1000;
/** Unfinished calls with a result URL at most (each keeps at most ~1.25 MiB): past this, 503. */
const MAX_PARKED = 256;

export interface ResultUrlsHost {
  store: Store;
  tokens: TokenService;
  /** How long a reader waits for the response head before a 303. */
  waitMs: number;
  /** How long a finished whole response is kept in the store. */
  resultRetentionMs: number;
  resultUrl(callId: string): string;
  cancel(callId: string): void;
}

/**
 * Result URLs (`/web/_result/<call id>`) of web calls answered 303 or 202: unfinished calls
 * wait in memory for their reader; a finished whole response goes to the store as the call's
 * outcome, so it is read again for as long as a spawned call's result is kept.
 */
export class ResultUrls {
  private readonly parked = new Map<string, { call: WebCall; since: number }>();

  constructor(private readonly h: ResultUrlsHost) {}

  /** The call ended: a whole response is stored, and then memory no longer needs it. */
  ended(call: WebCall, stopping = false): void {
    if (!this.parked.has(call.callId)) return;
    if (!this.persist(call)) {
      // Not a whole success (streamed, or failed: read from memory only). Cut short by the
      // server stopping, its row stays pending: the next start marks it interrupted.
      if (!stopping) this.h.store.deleteCall(call.callId);
      return;
    }
    if (!call.attached) this.parked.delete(call.callId);
  }

  /** Attaches `res`; if no head comes within the cap, answers 303 to the result URL instead. */
  attachWithCap(call: WebCall, res: ServerResponse): void {
    call.attach(res);
    if (call.answered) return;
    call.armCap(this.h.waitMs, () => {
      call.detach();
      if (!this.park(call)) return sendError(res, busy(), call.extra, call.requestId);
      res.writeHead(303, { ...call.extra, location: this.h.resultUrl(call.callId), "content-length": "0" });
      res.end();
    });
  }

  /** Gives the call a result URL; false (and the call cancelled) when too many wait already. */
  park(call: WebCall): boolean {
    if (this.parked.has(call.callId)) return true;
    if (this.parked.size >= MAX_PARKED) this.sweep();
    if (this.parked.size >= MAX_PARKED) {
      this.h.cancel(call.callId);
      return false;
    }
    call.keepForReplay = true;
    const now = Date.now();
    this.parked.set(call.callId, { call, since: now });
    // A row without inputs: a restart of the server before the call ends leaves it pending, and
    // the next start ends it as interrupted (engine recover()), so the URL answers that clearly.
    this.h.store.insertCall(
      {
        id: call.callId,
        functionId: call.endpoint.fn.id,
        appId: call.endpoint.fn.appId,
        kind: "spawn",
        idempotencyKey: null,
        parentInputId: null,
        method: null,
        createdAt: now,
      },
      [],
    );
    return true;
  }

  /**
   * A finished result URL's whole response goes to the store as the call's outcome, kept like a
   * spawned call's result: it outlives the memory entry and a restart of the control plane.
   */
  private persist(call: WebCall): boolean {
    const whole = call.wholeResponse();
    if (!whole) return false;
    const stored: StoredWebResponse = {
      skiffWebResponse: 1,
      ...whole,
      requestId: call.requestId,
      requiresAuth: call.endpoint.web.requiresAuth,
      cors: call.endpoint.web.kind === "endpoint",
    };
    const now = Date.now();
    // Its row was written when it was parked.
    this.h.store.completeCall(
      call.callId,
      "done",
      { kind: "result", result: { status: "success", data: encodeCbor(stored) } },
      now,
      now + this.h.resultRetentionMs,
    );
    return true;
  }

  /** A result URL whose response is only in the store (evicted from memory, or after a restart). */
  private async serveStoredResult(req: IncomingMessage, res: ServerResponse, callId: string): Promise<void> {
    const row = await this.h.store.getCall(callId);
    if (row?.state === "expired") throw new HttpError(410, "expired", `the result of ${callId} is past its retention`);
    const r = row?.outcome?.kind === "result" ? row.outcome.result : undefined;
    let w: StoredWebResponse | undefined;
    if (r?.status === "success" && r.data instanceof Uint8Array) {
      const v = decodeCbor(r.data) as StoredWebResponse | undefined;
      if (v?.skiffWebResponse === 1) w = v;
    }
    if (!w && r?.status === "terminated" && r.message.startsWith(INTERRUPTED_WEB_CALL))
      throw new HttpError(503, "unavailable", `${callId}: ${r.message}`, { "retry-after": "5" });
    if (!w)
      throw new HttpError(
        404,
        "not_found",
        `no web result ${callId}: unknown, or a streamed result that was already read`,
      );
    const extra = { "skiff-request-id": w.requestId, ...(w.cors ? CORS_HEADERS : {}) };
    try {
      if (w.requiresAuth) await requireToken(req, this.h.tokens, ["web"], "this endpoint's result");
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      sendError(res, err, extra);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of w.headers) {
      const name = k.toLowerCase();
      if (name === "transfer-encoding" || name === "connection" || name === "content-length") continue;
      const prev = headers[name];
      headers[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    res.writeHead(w.status, { ...headers, ...extra, "content-length": String(w.body.byteLength) });
    res.end(req.method === "HEAD" ? undefined : w.body);
  }

  async serve(req: IncomingMessage, res: ServerResponse, callId: string): Promise<void> {
    const entry = this.parked.get(callId);
    if (!entry) return this.serveStoredResult(req, res, callId);
    const { call } = entry;
    const extra = call.extra;
    try {
      if (call.endpoint.web.requiresAuth) await requireToken(req, this.h.tokens, ["web"], "this endpoint's result");
      if (call.attached) throw new HttpError(409, "failed_precondition", "another request is reading this result");
      entry.since = Date.now();
      // A result read to the end leaves memory once the call has ended: a whole one is in the
      // store by then (ended()). Read before the call's end arrived, ended() removes it.
      res.once("finish", () => {
        if (call.settledAt && call.callEnded) this.parked.delete(callId);
      });
      if (call.answered) {
        if (!call.attach(res)) throw new HttpError(410, "gone", "this streamed result was already read");
      } else {
        this.attachWithCap(call, res);
      }
    } catch (err) {
      if (err instanceof HttpError) return sendError(res, err, extra);
      throw err;
    }
  }

  /** Drops result URLs past their time; cancels parked calls nobody came back for. */
  sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.parked) {
      if (e.call.attached) continue;
      const since = e.call.settledAt || e.since;
      if (now - since < RESULT_TTL_MS) continue;
      this.parked.delete(id);
      if (!e.call.settledAt) {
        this.h.cancel(id);
        this.h.store.deleteCall(id);
      }
    }
  }
}

/** A finished result URL's response, as stored in its call's outcome. */
interface StoredWebResponse {
  skiffWebResponse: 1;
  status: number;
  headers: [string, string][];
  body: Uint8Array;
  requestId: string;
  requiresAuth: boolean;
  cors: boolean;
}

export function busy(): HttpError {
  return new HttpError(503, "unavailable", "too many web results wait to be read; try again later", {
    "retry-after": "5",
  });
}
