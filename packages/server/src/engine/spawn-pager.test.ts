import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CallRow, Store } from "../store/store.js";
import type { LiveFunction } from "./model.js";
import { SpawnPager } from "./spawn-pager.js";

function fakeStore(): { store: Store; parked: CallRow[] } {
  const parked: CallRow[] = [];
  const store = {
    insertCall(row: CallRow) {
      if (row.parked) parked.push(row);
    },
    async parkedCalls(_fn: string, limit: number) {
      return parked
        .filter((r) => r.parked)
        .slice(0, limit)
        .map((r) => ({ row: r, inputs: [] }));
    },
    setParked(id: string, p: boolean) {
      const r = parked.find((x) => x.id === id);
      if (r) r.parked = p;
    },
  } as unknown as Store;
  return { store, parked };
}

const row = (i: number): CallRow => ({
  id: `fc-${String(i).padStart(4, "0")}`,
  functionId: "fu-1",
  kind: "spawn",
  idempotencyKey: null,
  parentInputId: null,
  method: null,
  createdAt: i,
});

describe("SpawnPager", () => {
  it("keeps at most maxResident spawned calls in memory, pages the rest in oldest first", async () => {
    const { store } = fakeStore();
    const revived: string[] = [];
    const fn = { id: "fu-1", live: true, residentSpawns: 0, parked: 0, pageInScheduled: false } as LiveFunction;
    const revive = (f: LiveFunction, r: CallRow) => {
      revived.push(r.id);
      pager.added(f);
    };
    const pager: SpawnPager = new SpawnPager({ store, revive, resultRetentionMs: 1000 }, 4);
    let peak = 0;
    for (let i = 0; i < 10; i++) {
      if (pager.shouldPark(fn)) pager.park(fn, row(i), []);
      else pager.added(fn);
      peak = Math.max(peak, fn.residentSpawns);
    }
    assert.equal(fn.residentSpawns, 4);
    assert.equal(fn.parked, 6);
    // Once some are parked, new ones park too (first in, first out), even with room.
    pager.settled(fn);
    assert.ok(pager.shouldPark(fn));
    // Finishing resident calls frees room; paging happens once half the room is free.
    pager.settled(fn);
    await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(revived, ["fc-0004", "fc-0005"]);
    assert.equal(fn.residentSpawns, 4);
    for (let i = 0; i < 8; i++) {
      pager.settled(fn);
      await new Promise((r) => setTimeout(r, 1));
      peak = Math.max(peak, fn.residentSpawns);
    }
    assert.deepEqual(revived, ["fc-0004", "fc-0005", "fc-0006", "fc-0007", "fc-0008", "fc-0009"]);
    assert.equal(fn.parked, 0);
    assert.ok(peak <= 4, `peak resident ${peak}`);
    assert.ok(!pager.shouldPark(fn));
  });

  it("tells a read of a parked call under way that the call left the store (paged in or cancelled)", () => {
    const { store } = fakeStore();
    const pager = new SpawnPager({ store, revive: () => {}, resultRetentionMs: 1000 }, 4);
    const a = pager.watch("fc-a");
    const a2 = pager.watch("fc-a");
    const b = pager.watch("fc-b");
    // A page-in (revive) or a cancel takes the call's waiters: every read of it under way learns.
    pager.takeWaiters("fc-a");
    assert.deepEqual([a.left, a2.left, b.left], [true, true, false]);
    pager.unwatch("fc-a", a);
    pager.unwatch("fc-a", a2);
    pager.unwatch("fc-b", b);
    // A read started afterwards is not told about what happened before it.
    const later = pager.watch("fc-a");
    assert.equal(later.left, false);
    pager.unwatch("fc-a", later);
  });
});
