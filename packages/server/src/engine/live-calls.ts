import { newId, type Payload } from "@skiff/protocol";
import type { Store } from "../store/store.js";
import { createdRows, type LiveCall, type LiveFunction, type LiveInput } from "./model.js";

/** What the table of live calls needs of its owner. */
export interface LiveCallsHost {
  store: Pick<Store, "insertCall" | "insertGraphInput">;
  /** A map's call left the table: its holder is told once this tick's results are out. */
  mapEnded(call: LiveCall): void;
}

/**
 * The calls and inputs in memory (running, queued, or waiting for their caller), by id, and the
 * idempotency keys of the live ones (their rows may not be written yet). Making a call or an
 * input here writes what must be in the store at once (a graph input's row); the call's own row
 * is the caller's choice (`persisted`).
 */
export class LiveCalls {
  readonly calls = new Map<string, LiveCall>();
  readonly inputs = new Map<string, LiveInput>();
  private readonly keys = new Map<string, string>();

  constructor(private readonly host: LiveCallsHost) {}

  /** A new call of `fn`, not yet in the table (`track`); the kind-specific parts are given in `extra`. */
  newCall(fn: LiveFunction, parentInputId: string | undefined, extra: Partial<LiveCall>): LiveCall {
    return {
      id: newId("fc"),
      fn,
      kind: "remote",
      idempotencyKey: null,
      parentInputId: parentInputId ?? null,
      method: undefined,
      createdAt: Date.now(),
      inputs: [],
      outcome: undefined,
      waiters: undefined,
      deferred: undefined,
      map: undefined,
      stream: undefined,
      ...extra,
    };
  }

  /** A call's input, in the table. `now`: the time it is queued (a map's batch reads the clock once for all its inputs). */
  newInput(call: LiveCall, idx: number, args: Payload, id = newId("in"), now = Date.now()): LiveInput {
    const input: LiveInput = {
      id,
      call,
      idx,
      args,
      attempt: 0,
      failures: 0,
      lost: 0,
      status: "pending",
      graph: call.kind === "spawn" || call.parentInputId !== null,
      container: undefined,
      startedAt: 0,
      queuedAt: now,
      attemptOpen: false,
      seq: -1,
    };
    this.inputs.set(input.id, input);
    call.fn.stats.accepted++;
    if (input.graph) {
      this.host.store.insertGraphInput({
        inputId: input.id,
        callId: call.id,
        parentInputId: call.parentInputId,
        functionName: call.method ? `${call.fn.name}.${call.method}` : call.fn.name,
        createdAt: call.createdAt,
      });
    }
    return input;
  }

  /** An input that will not run again leaves the table. */
  inputDone(input: LiveInput): void {
    input.status = "done";
    input.container = undefined;
    this.inputs.delete(input.id);
  }

  track(call: LiveCall): void {
    this.calls.set(call.id, call);
    call.fn.activeCalls++;
    if (call.idempotencyKey) this.keys.set(call.idempotencyKey, call.id);
  }

  untrack(call: LiveCall): void {
    if (!this.calls.delete(call.id)) return;
    call.fn.activeCalls--;
    call.fn.idleSince = Date.now();
    if (call.idempotencyKey) this.keys.delete(call.idempotencyKey);
    if (call.map) this.host.mapEnded(call);
  }

  /** The live call with this idempotency key. */
  byKey(key: string): string | undefined {
    return this.keys.get(key);
  }

  /** Before writing anything else about a call, its own row must exist. */
  persisted(call: LiveCall): void {
    if (call.deferred !== "held") return;
    call.deferred = "written";
    this.host.store.insertCall(...createdRows(call));
  }
}
