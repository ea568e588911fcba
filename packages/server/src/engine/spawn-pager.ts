import type { CallOutcome } from "@skiff/protocol";
import type { CallRow, InputRow, Store } from "../store/store.js";
import type { LiveFunction } from "./model.js";
import type { Waiter } from "./waiters.js";

/** Pending spawned calls one function keeps in memory; the rest wait in the store. */
export const DEFAULT_RESIDENT_SPAWNS = 10_000;

/** A read of one call under way; `left` turns true if the call leaves the parked state meanwhile. */
export interface CallWatch {
  left: boolean;
}

/** What paging needs from the engine. */
export interface SpawnPagerHost {
  readonly store: Store;
  /** Takes a stored pending call into memory and queues its inputs. */
  revive(fn: LiveFunction, row: CallRow, inputs: InputRow[]): void;
  /** How long an ended spawned call's outcome is kept. */
  readonly resultRetentionMs: number;
}

/** Parked calls a stopped function's clean-up reads at a time. */
const END_PAGE = 1000;

/**
 * Bounds the memory of `.spawn`: past `maxResident` pending spawned calls, a function's new
 * spawns are written to the store only ("parked") and paged in, oldest first, as resident
 * ones finish. Once any are parked, later spawns park too, so the order stays first in,
 * first out.
 */
export class SpawnPager {
  /** `call.get` waiters of parked calls, handed to the call when it is paged in. */
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Parked calls cancelled while a page-in's read was under way: that read may still list them. */
  private readonly cancelledDuringRead = new Set<Set<string>>();
  /** Reads of one call under way (`watch`): each learns whether the call left the store meanwhile. */
  private readonly watches = new Map<string, Set<CallWatch>>();

  constructor(
    private readonly host: SpawnPagerHost,
    private readonly maxResident: number,
  ) {}

  addWaiter(callId: string, w: Waiter): void {
    let set = this.waiters.get(callId);
    if (!set) {
      set = new Set();
      this.waiters.set(callId, set);
    }
    set.add(w);
  }

  removeWaiter(callId: string, w: Waiter): void {
    const set = this.waiters.get(callId);
    set?.delete(w);
    if (set?.size === 0) this.waiters.delete(callId);
  }

  /** The waiters of a parked call (now paged in, or cancelled where it lay). */
  takeWaiters(callId: string): Set<Waiter> {
    for (const w of this.watches.get(callId) ?? []) w.left = true;
    const set = this.waiters.get(callId) ?? new Set<Waiter>();
    this.waiters.delete(callId);
    return set;
  }

  /**
   * Starts a read of one call from the store. A read that saw it parked may be stale by the
   * time it answers: the call may have been paged in (and even finished) or cancelled
   * meanwhile, and a waiter then left with the pager would never be answered. `left` says so;
   * read again (the store then shows its new state). End with `unwatch`.
   */
  watch(callId: string): CallWatch {
    const w: CallWatch = { left: false };
    let set = this.watches.get(callId);
    if (!set) {
      set = new Set();
      this.watches.set(callId, set);
    }
    set.add(w);
    return w;
  }

  unwatch(callId: string, w: CallWatch): void {
    const set = this.watches.get(callId);
    set?.delete(w);
    if (set?.size === 0) this.watches.delete(callId);
  }

  /** Whether a new spawned call of `fn` should wait in the store. */
  shouldPark(fn: LiveFunction): boolean {
    return fn.parked > 0 || fn.residentSpawns >= this.maxResident;
  }

  /** Writes a spawned call that waits in the store. */
  park(fn: LiveFunction, row: CallRow, inputs: InputRow[]): void {
    this.host.store.insertCall({ ...row, parked: true }, inputs);
    fn.parked++;
  }

  /** A resident spawned call was created (or revived). */
  added(fn: LiveFunction): void {
    fn.residentSpawns++;
  }

  /** A resident spawned call finished: page more in once half the room is free. */
  settled(fn: LiveFunction): void {
    fn.residentSpawns--;
    if (fn.parked > 0 && !fn.pageInScheduled && fn.residentSpawns <= this.maxResident / 2) {
      fn.pageInScheduled = true;
      setImmediate(() => {
        if (!fn.live) {
          fn.pageInScheduled = false;
          return;
        }
        this.pageIn(fn)
          .catch(() => {}) // the store's reads failed (database gone): the next settle retries
          .finally(() => {
            fn.pageInScheduled = false;
          });
      });
    }
  }

  /** A parked call was cancelled where it lies. */
  cancelledParked(fn: LiveFunction, callId: string): void {
    fn.parked = Math.max(0, fn.parked - 1);
    for (const s of this.cancelledDuringRead) s.add(callId);
  }

  /** Revives parked calls of `fn` up to the resident limit, oldest first. */
  async pageIn(fn: LiveFunction): Promise<void> {
    const room = this.maxResident - fn.residentSpawns;
    if (room <= 0 || fn.parked <= 0) return;
    const cancelled = new Set<string>();
    this.cancelledDuringRead.add(cancelled);
    let rows: Awaited<ReturnType<Store["parkedCalls"]>>;
    try {
      rows = await this.host.store.parkedCalls(fn.id, room);
    } finally {
      this.cancelledDuringRead.delete(cancelled);
    }
    for (const { row, inputs } of rows) {
      if (cancelled.has(row.id)) continue;
      this.host.store.setParked(row.id, false);
      this.host.revive(fn, row, inputs);
    }
    // Fewer than asked: none are left (a parked call may also have been cancelled meanwhile).
    fn.parked = rows.length < room ? 0 : Math.max(0, fn.parked - rows.length);
  }

  /**
   * A function stopped (its app was stopped or redeployed without it): its parked calls will
   * never run, so they end now with `message` (a terminated result), where they lie, and
   * whoever waits on one hears it, rather than their staying pending until the next server
   * start. A page at a time: the store shows each page ended before the next read.
   */
  async endParked(fn: LiveFunction, message: string): Promise<number> {
    const outcome: CallOutcome = { kind: "result", result: { status: "terminated", message } };
    let n = 0;
    for (;;) {
      const rows = await this.host.store.parkedCalls(fn.id, END_PAGE);
      for (const { row } of rows) {
        const now = Date.now();
        this.host.store.completeCall(row.id, "done", outcome, now, now + this.host.resultRetentionMs);
        for (const w of this.takeWaiters(row.id)) w(outcome);
      }
      n += rows.length;
      if (rows.length < END_PAGE) break;
    }
    fn.parked = 0;
    return n;
  }
}
