import type { CallRow, InputRow, Store } from "../store/store.js";
import type { LiveFunction } from "./model.js";

/** The outcome of a web request with a result URL that a restart of the server cut short. */
export const INTERRUPTED_WEB_CALL = "the server restarted before this request's response was complete";

/** Stored pending calls read at a time. */
const PAGE = 1000;

/** What recovery needs from the engine that owns functions, calls and queues. */
export interface RecoveryHost {
  readonly store: Pick<Store, "pendingCalls" | "completeCall" | "setParked">;
  /** How long an ended call's outcome is kept. */
  readonly resultRetentionMs: number;
  /** A registered function, brought back into memory if it is an idle class instance. */
  lookupFunction(functionId: string): Promise<LiveFunction | undefined>;
  /** Whether a spawned call of `fn` waits in the store (over its resident limit: spawn-pager.ts). */
  shouldPark(fn: LiveFunction): boolean;
  /** Takes a stored pending call into memory and queues its inputs, without dispatching. */
  revive(fn: LiveFunction, row: CallRow, inputs: InputRow[]): void;
}

/**
 * After a restart: every call the store holds as pending is taken back into memory and queued,
 * parked (spawned calls over the resident limit), or ended where it can no longer run (its
 * function's app stopped; a web request whose stream died with the server). Returns how many
 * calls run again. The caller dispatches once all are back.
 */
export async function recoverPending(host: RecoveryHost): Promise<number> {
  let after = "";
  let n = 0;
  for (;;) {
    const page = await host.store.pendingCalls(after, PAGE);
    if (page.length === 0) break;
    for (const { row, inputs } of page) {
      after = row.id;
      if (inputs.length === 0) {
        // A web request with a result URL (gateway/result-urls.ts): its stream died with the
        // server. Its URL answers that, rather than not knowing it.
        const now = Date.now();
        const message = `${INTERRUPTED_WEB_CALL}: send the request again`;
        host.store.completeCall(
          row.id,
          "done",
          { kind: "result", result: { status: "terminated", message } },
          now,
          now + host.resultRetentionMs,
        );
        continue;
      }
      const fn = await host.lookupFunction(row.functionId);
      if (!fn) {
        host.store.completeCall(
          row.id,
          "done",
          {
            kind: "result",
            result: { status: "terminated", message: "the function's app stopped" },
          },
          Date.now(),
          Date.now() + host.resultRetentionMs,
        );
        continue;
      }
      n++;
      if (row.kind === "spawn" && (row.parked || host.shouldPark(fn))) {
        // Over the resident limit: it waits in the store and is paged in later.
        if (!row.parked) host.store.setParked(row.id, true);
        fn.parked++;
        continue;
      }
      host.revive(fn, row, inputs);
    }
  }
  return n;
}
