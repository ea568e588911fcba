import type { MapCallRow, Store } from "../store/store.js";
import { EngineError } from "./engine-error.js";
import type { LiveCall } from "./model.js";

/**
 * How long a map waits to be taken back (map.resume): after its caller's connection dropped,
 * after it finished (its last results may have been lost with the connection), and after a
 * restart of the server. Longer than a client's reconnect window (60 s by default).
 */
export const MAP_RESUME_MS = 120_000;

/**
 * The rows that let a map outlive its connection and its server (architecture.md §3: the
 * caller holds what the server has not committed and sends it again). A map's inputs are never
 * written; only a row naming the map and its function, so that a restarted server knows the
 * map when its caller comes back, and can tell a map it never had from one it lost.
 */
export class MapResume {
  constructor(
    private readonly store: Store,
    readonly windowMs = MAP_RESUME_MS,
  ) {}

  /** A map started: its row is written with the next commit (see `durable`). */
  started(call: LiveCall, idempotencyKey: string): void {
    this.store.insertMapCall({
      id: call.id,
      functionId: call.fn.id,
      method: call.method ?? null,
      parentInputId: call.parentInputId,
      idempotencyKey,
      createdAt: call.createdAt,
      expiresAt: null,
    });
  }

  /** Resolves once the rows written so far are committed: map.start answers after it. */
  durable(): Promise<void> {
    return this.store.flush();
  }

  /** The row of a map to take back, or not_found naming the map and the likely reasons. */
  async find(callId: string): Promise<MapCallRow> {
    const row = await this.store.getMapCall(callId);
    if (!row || (row.expiresAt !== null && row.expiresAt <= Date.now()))
      throw new EngineError(
        "not_found",
        `map ${callId} is not known to this server: it ended (finished or cancelled) more than ${this.windowMs / 1000} s ago, its caller was away longer than that, or it was started on another server`,
      );
    return row;
  }

  /** A map this server took back after a restart: it runs here now. */
  takenBack(callId: string): void {
    this.store.setMapCallExpiry(callId, null);
  }

  /** A map ended here: it can still be taken back for a while (its last results may be lost). */
  ended(callId: string): void {
    this.store.setMapCallExpiry(callId, Date.now() + this.windowMs);
  }

  /** At start: maps a previous run of the server left get the resume window from now. */
  afterRestart(): void {
    this.store.orphanMapCalls(Date.now() + this.windowMs);
  }

  /** Drops rows of maps nobody took back in time. */
  expire(now: number): Promise<number> {
    return this.store.expireMapCalls(now);
  }
}
