import type { CallOutcome } from "@skiff/protocol";
import { outcomeBlob } from "../store/blob-refs.js";
import type { Store, StoredCall } from "../store/store.js";
import { EngineError } from "./engine-error.js";
import type { LiveCall, LiveFunction } from "./model.js";
import { RecentMap } from "./recent-map.js";
import type { SpawnPager } from "./spawn-pager.js";
import { waitForOutcome } from "./waiters.js";

/** Delivered `.remote` outcomes remembered for resends after a lost reply. */
const RECENT_DELIVERED = 10_000;
/** Blobs of stored outcomes remembered as just handed out (see handedOut). */
const HANDED_OUT_MAX = 100_000;
/** How long outcomes handed out count as in use (their callers fetch the blobs right after). */
const HANDED_OUT_MS = 60_000;

/** What waiting for outcomes needs from the engine that owns the calls. */
export interface OutcomesHost {
  readonly store: Pick<Store, "getCall" | "deleteCall">;
  /** Calls in memory, by id. */
  readonly calls: ReadonlyMap<string, LiveCall>;
  /** Parked spawned calls: their waiters, and reads that race their paging in. */
  readonly pager: Pick<SpawnPager, "watch" | "unwatch" | "addWaiter" | "removeWaiter">;
  /** A registered function, brought back into memory if it is an idle class instance. */
  lookupFunction(functionId: string): Promise<LiveFunction | undefined>;
  /** Forgets a call that is over (its idempotency key, its function's count). */
  untrack(call: LiveCall): void;
}

/**
 * Who hears a call's outcome: waiters of a call in memory, of a parked one, or of one only the
 * store holds. A `.remote` outcome is dropped once delivered, and remembered a moment by its
 * idempotency key so that a resend after a lost reply gets it again instead of a second run.
 */
export class Outcomes {
  /**
   * `.remote` outcomes handed to a caller a moment ago, by idempotency key: if the reply was
   * lost with the connection, the caller's resend gets the same outcome instead of a second
   * run. Bounded: the oldest entries go first.
   */
  private readonly recentlyDelivered = new RecentMap<string, { callId: string; outcome: CallOutcome; at: number }>(
    RECENT_DELIVERED,
  );
  /**
   * Blobs of stored outcomes handed to a caller in the last minute (by when): the caller
   * fetches them right after, though no row refers to them any more. Bounded.
   */
  private readonly handedOut = new Map<string, number>();

  constructor(private readonly host: OutcomesHost) {}

  /** A `.remote` call with this idempotency key delivered a moment ago, with its outcome. */
  recent(key: string): { callId: string; existing: true; outcome: CallOutcome } | undefined {
    const r = this.recentlyDelivered.get(key);
    return r ? { callId: r.callId, existing: true, outcome: r.outcome } : undefined;
  }

  /**
   * Waits for a call's outcome (awaitCall). Resolves undefined when `timeoutMs` passes first.
   * @throws EngineError not_found for an unknown call id.
   */
  await(
    callId: string,
    timeoutMs: number | undefined,
    onGone?: (cancel: () => void) => void,
  ): Promise<CallOutcome | undefined> {
    // Not an async function: a live call's outcome reaches the caller's reply in the turn it
    // arrives, not two promise turns later (a warm `.remote` is waited on here).
    const live = this.host.calls.get(callId);
    if (live) return this.waitLive(live, timeoutMs, onGone);
    return this.awaitStored(callId, timeoutMs, onGone);
  }

  private waitLive(
    live: LiveCall,
    timeoutMs: number | undefined,
    onGone: ((cancel: () => void) => void) | undefined,
  ): Promise<CallOutcome | undefined> {
    if (live.outcome) {
      try {
        return Promise.resolve(this.delivered(live, live.outcome));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return waitForOutcome(
      (w) => {
        live.waiters ??= new Set();
        live.waiters.add(w);
      },
      (w) => live.waiters?.delete(w),
      timeoutMs,
      onGone,
    );
  }

  /** awaitCall of a call that is not in memory: as the store has it. */
  private async awaitStored(
    callId: string,
    timeoutMs: number | undefined,
    onGone: ((cancel: () => void) => void) | undefined,
  ): Promise<CallOutcome | undefined> {
    const waitLive = (live: LiveCall) => this.waitLive(live, timeoutMs, onGone);
    const { stored, fn } = await this.read(callId);
    // Paged in while the store was read.
    const now = this.host.calls.get(callId);
    if (now) return waitLive(now);
    if (!stored) throw new EngineError("not_found", `no function call ${callId}`);
    if (
      stored.state === "expired" ||
      (stored.state !== "pending" && stored.expiresAt !== null && stored.expiresAt <= Date.now())
    ) {
      return { kind: "expired" };
    }
    if (stored.outcome) {
      if (stored.kind === "remote") {
        this.host.store.deleteCall(callId);
        const b = outcomeBlob(stored.outcome);
        if (b && this.handedOut.size < HANDED_OUT_MAX) this.handedOut.set(b, Date.now());
      }
      return stored.outcome;
    }
    if (stored.state === "pending" && fn?.live) {
      // Parked: waits in the store until it is paged in and finishes.
      return waitForOutcome(
        (w) => this.host.pager.addWaiter(callId, w),
        (w) => {
          this.host.pager.removeWaiter(callId, w);
          this.host.calls.get(callId)?.waiters?.delete(w); // paged in meanwhile
        },
        timeoutMs,
        onGone,
      );
    }
    // Pending in the store but not live: the function is gone.
    return Promise.resolve({
      kind: "result",
      result: { status: "terminated", message: "the call's function is no longer running" },
    });
  }

  /**
   * A call that is not in memory, as the store has it, and its function if it is pending. Read
   * again when the call left the parked state during the read (paged in, perhaps finished, or
   * cancelled): acting on the stale "pending" would leave a waiter with the pager that nothing
   * answers any more, or cancel a call that has finished. A call leaves that state once, so
   * this reads twice at most.
   */
  async read(callId: string): Promise<{ stored: StoredCall | undefined; fn: LiveFunction | undefined }> {
    for (;;) {
      const watch = this.host.pager.watch(callId);
      try {
        const stored = await this.host.store.getCall(callId);
        const fn = stored?.state === "pending" ? await this.host.lookupFunction(stored.functionId) : undefined;
        if (!watch.left) return { stored, fn };
      } finally {
        this.host.pager.unwatch(callId, watch);
      }
    }
  }

  /** A waiter took the outcome: `.remote` results are dropped once read. */
  delivered(call: LiveCall, outcome: CallOutcome): CallOutcome {
    if (call.kind === "remote") {
      this.host.untrack(call);
      if (call.idempotencyKey) {
        this.recentlyDelivered.set(call.idempotencyKey, { callId: call.id, outcome, at: Date.now() });
      }
      // Delivered while only in memory: it never touches the disk.
      if (call.deferred === "held") call.deferred = "dropped";
      else this.host.store.deleteCall(call.id);
    }
    return outcome;
  }

  /** Adds to `out` the blobs of outcomes delivered a moment ago: their callers are fetching them. */
  blobsInUse(out: Set<string>): void {
    const since = Date.now() - HANDED_OUT_MS;
    for (const r of this.recentlyDelivered.values()) {
      const b = r.at >= since ? outcomeBlob(r.outcome) : null;
      if (b) out.add(b);
    }
    for (const [b, at] of this.handedOut) {
      if (at < since) this.handedOut.delete(b);
      else out.add(b);
    }
  }
}
