import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CallOutcome } from "@skiff/protocol";
import type { CallRow, InputRow } from "../store/store.js";
import type { LiveFunction } from "./model.js";
import { INTERRUPTED_WEB_CALL, type RecoveryHost, recoverPending } from "./recovery.js";

const row = (id: string, functionId: string, kind: "remote" | "spawn", parked = false): CallRow => ({
  id,
  functionId,
  kind,
  idempotencyKey: null,
  parentInputId: null,
  method: null,
  createdAt: 0,
  parked,
});
const input = (callId: string): InputRow => ({
  id: `in-${callId}`,
  callId,
  idx: 0,
  args: new Uint8Array([1]),
  state: "pending",
  attempt: 1,
  failures: 0,
});

describe("recoverPending", () => {
  it("revives, parks or ends each pending call, page by page, and counts those that run again", async () => {
    const fn = { id: "fu-1", parked: 0 } as LiveFunction;
    const calls = [
      { row: row("fc-1", "fu-1", "remote"), inputs: [] }, // a web request with a result URL
      { row: row("fc-2", "fu-gone", "spawn"), inputs: [input("fc-2")] },
      { row: row("fc-3", "fu-1", "spawn"), inputs: [input("fc-3")] },
      { row: row("fc-4", "fu-1", "spawn", true), inputs: [input("fc-4")] },
      { row: row("fc-5", "fu-1", "remote"), inputs: [input("fc-5")] },
    ];
    const completed = new Map<string, CallOutcome>();
    const setParked: string[] = [];
    const revived: string[] = [];
    const host: RecoveryHost = {
      store: {
        // Two at a time: recovery reads on from the last id it saw.
        pendingCalls: async (after: string) => calls.filter((c) => c.row.id > after).slice(0, 2),
        completeCall: (id: string, _state: string, outcome: CallOutcome) => void completed.set(id, outcome),
        setParked: (id: string) => void setParked.push(id),
      } as unknown as RecoveryHost["store"],
      resultRetentionMs: 1000,
      lookupFunction: async (id) => (id === "fu-1" ? fn : undefined),
      shouldPark: () => revived.length === 0 && setParked.length === 0, // the first spawn is over the limit
      revive: (_fn, r) => void revived.push(r.id),
    };
    const n = await recoverPending(host);
    assert.equal(n, 3);
    const message = (id: string) => {
      const o = completed.get(id);
      return o?.kind === "result" ? o.result.status === "terminated" && o.result.message : undefined;
    };
    assert.ok(String(message("fc-1")).startsWith(INTERRUPTED_WEB_CALL));
    assert.equal(message("fc-2"), "the function's app stopped");
    assert.deepEqual(setParked, ["fc-3"]); // fc-4 was parked already
    assert.equal(fn.parked, 2);
    assert.deepEqual(revived, ["fc-5"]);
  });
});
