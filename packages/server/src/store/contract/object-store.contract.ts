import assert from "node:assert/strict";
import { it } from "node:test";
import type { ObjectStore, QueueItemRow, QueuePutResult } from "../object-store.js";
import { itemsOf, rowsOf, runBody } from "../queue-runs.js";

const bytes = (n: number) => new Uint8Array([n]);
const limits = { maxItems: 5, maxPartitions: 2 };

/** queuePut of a list of items. */
const put = (
  s: ObjectStore,
  q: string,
  p: string,
  list: Uint8Array[],
  now: number,
  lim: typeof limits,
): Promise<QueuePutResult> => s.queuePut(q, p, itemsOf(list), now, lim);
/** queueTake, as one row per item. */
const take = async (s: ObjectStore, q: string, p: string, n: number): Promise<QueueItemRow[]> =>
  rowsOf(await s.queueTake(q, p, n));

/**
 * What every ObjectStore implementation must do (store/object-store.ts). Run by each
 * implementation's test with a fresh store per case.
 */
export function objectStoreContract(open: () => Promise<{ store: ObjectStore; close(): Promise<void> }>): void {
  const withStore = (name: string, fn: (s: ObjectStore) => Promise<void>) =>
    it(name, async () => {
      const { store, close } = await open();
      try {
        await fn(store);
      } finally {
        await close();
      }
    });

  withStore("createObject keeps the first holder of a name", async (s) => {
    const row = {
      kind: "dict" as const,
      environment: "main",
      name: "n",
      ownerApp: null,
      ownerSession: null,
      createdAt: 1,
    };
    const a = await s.createObject({ ...row, id: "di-a" });
    const b = await s.createObject({ ...row, id: "di-b", kind: "queue" });
    assert.equal(a.id, "di-a");
    assert.equal(b.id, "di-a");
    assert.equal((await s.findObject("main", "n"))?.kind, "dict");
    assert.equal(await s.findObject("other", "n"), undefined);
  });

  withStore("dictPut with skipIfExists writes once; delete returns the value", async (s) => {
    assert.equal(await s.dictPut("d", "s:k", { inline: bytes(1) }, 1, true), true);
    assert.equal(await s.dictPut("d", "s:k", { inline: bytes(2) }, 1, true), false);
    assert.deepEqual(await s.dictGet("d", "s:k", 1, 1000), { inline: bytes(1) });
    assert.equal(await s.dictPut("d", "s:k", { blob: "bl-x" }, 1, false), true);
    assert.deepEqual(await s.dictDelete("d", "s:k"), { blob: "bl-x" });
    assert.equal(await s.dictDelete("d", "s:k"), undefined);
  });

  withStore("dictScan pages in key order; dictExpire drops what is idle", async (s) => {
    await s.dictUpdate(
      "d",
      ["s:c", "s:a", "s:b"].map((k) => [k, { inline: bytes(0) }]),
      10,
    );
    assert.deepEqual(
      (await s.dictScan("d", undefined, 2)).map((e) => e.key),
      ["s:a", "s:b"],
    );
    assert.deepEqual(
      (await s.dictScan("d", "s:b", 2)).map((e) => e.key),
      ["s:c"],
    );
    await s.dictGet("d", "s:a", 100, 50); // read: touched
    assert.equal(await s.dictExpire(50), 2);
    assert.equal(await s.dictLen("d"), 1);
  });

  withStore("queue: FIFO per partition, leases, release in place, ack, limits", async (s) => {
    assert.deepEqual(await put(s, "q", "", [bytes(1), bytes(2), bytes(3)], 1, limits), { ok: true });
    assert.deepEqual(await put(s, "q", "", [bytes(4), bytes(5), bytes(6)], 1, limits), {
      ok: false,
      reason: "full",
      size: 3,
    });
    assert.deepEqual(await put(s, "q", "p", [bytes(9)], 1, limits), { ok: true });
    assert.equal((await put(s, "q", "p2", [bytes(9)], 1, limits)).ok, false, "a third partition passes maxPartitions");
    const first = await take(s, "q", "", 2);
    assert.deepEqual(
      first.map((r) => r.value[0]),
      [1, 2],
    );
    assert.deepEqual(
      (await take(s, "q", "", 5)).map((r) => r.value[0]),
      [3],
      "leased items are not taken twice",
    );
    assert.equal(await s.queueLen("q", ""), 0);
    await s.queueRelease(
      "q",
      "",
      first.map((r) => r.id),
    );
    assert.deepEqual(
      (await take(s, "q", "", 1)).map((r) => r.value[0]),
      [1],
      "released items are back at the front",
    );
    assert.equal(await s.queueLen("q", undefined), 2);
    await s.queueResetLeases();
    const all = await take(s, "q", "", 10);
    await s.queueAck(
      "q",
      "",
      all.map((r) => r.id),
    );
    assert.deepEqual(await put(s, "q", "", [bytes(1), bytes(2), bytes(3), bytes(4), bytes(5)], 1, limits), {
      ok: true,
    });
    assert.equal(await s.queueExpire(2), 2, "both partitions idle since 1");
    assert.equal(await s.queueLen("q", undefined), 0);
  });

  withStore("queue: items put from one buffer come out whole, as runs of consecutive ids", async (s) => {
    // As a packed queue.put hands them on: a CBOR array header (3 bytes), then items of 1, 3
    // and 2 bytes, left where they arrived.
    const buf = new Uint8Array([0x99, 0, 3, 1, 2, 2, 2, 3, 3]);
    assert.deepEqual(await s.queuePut("q", "", { bytes: buf, start: 3, ends: [4, 7, 9] }, 1, limits), { ok: true });
    const runs = await s.queueTake("q", "", 2);
    const rows = rowsOf(runs);
    assert.deepEqual(
      rows.map((r) => [...r.value]),
      [[1], [2, 2, 2]],
    );
    assert.deepEqual([...Buffer.concat(runs.map(runBody))], [1, 2, 2, 2], "a run's body is its items back to back");
    const rest = rowsOf(await s.queueTake("q", "", 5));
    assert.deepEqual(
      rest.map((r) => [...r.value]),
      [[3, 3]],
    );
    assert.deepEqual(
      [...rows, ...rest].map((r) => r.id - rows[0]!.id),
      [0, 1, 2],
      "ids in put order",
    );
  });

  withStore("volumeCommit applies changes to the newest version; volumePrune keeps what is pinned", async (s) => {
    const h = (c: string) => c.repeat(64);
    await s.volumeCommit("v", [{ path: "a", hash: h("a"), size: 1 }], 1);
    await s.volumeCommit("v", [{ path: "b", hash: h("b"), size: 1 }], 1);
    const v3 = await s.volumeCommit(
      "v",
      [
        { path: "a", hash: h("c"), size: 2 },
        { path: "b", hash: null, size: 0 },
      ],
      1,
    );
    assert.deepEqual(v3, { version: 3, files: [{ path: "a", hash: h("c"), size: 2 }] });
    assert.deepEqual(await s.volumePrune("v", new Set([2])), [], "version 2 is pinned: a and b still named");
    assert.deepEqual((await s.volumePrune("v", new Set())).sort(), [h("a"), h("b")]);
    assert.equal(await s.volumeHashUsed(h("c")), true);
    assert.deepEqual(
      (await s.volumeLatest("v")).files.map((f) => f.path),
      ["a"],
    );
  });

  // Concurrent callers: on Postgres these run on several connections at once.
  withStore("concurrent skipIfExists puts: exactly one wins", async (s) => {
    const wins = await Promise.all(
      Array.from({ length: 16 }, (_, i) => s.dictPut("d", "s:race", { inline: bytes(i) }, 1, true)),
    );
    assert.equal(wins.filter(Boolean).length, 1);
    const winner = wins.indexOf(true);
    assert.deepEqual(await s.dictGet("d", "s:race", 1, 1000), { inline: bytes(winner) }, "the winner's value stays");
  });

  withStore("concurrent queue puts keep the limit; concurrent takes get each item once", async (s) => {
    const puts = await Promise.all(
      Array.from({ length: 12 }, (_, i) => put(s, "q", "", [bytes(i)], 1, { maxItems: 8, maxPartitions: 2 })),
    );
    assert.equal(puts.filter((r) => r.ok).length, 8, "exactly maxItems puts land");
    const parts = await Promise.all(
      ["a", "b", "c", "d"].map((p) => put(s, "q2", p, [bytes(0)], 1, { maxItems: 8, maxPartitions: 2 })),
    );
    assert.equal(parts.filter((r) => r.ok).length, 2, "exactly maxPartitions partitions are made");
    const takes = await Promise.all(Array.from({ length: 12 }, () => take(s, "q", "", 1)));
    const got = takes.flat().map((r) => r.id);
    assert.equal(got.length, 8);
    assert.equal(new Set(got).size, 8, "no item is taken twice");
  });

  withStore("queue: one batch taken in parts, released and acknowledged by lease, counted by item", async (s) => {
    const big = { maxItems: 12, maxPartitions: 2 };
    /** Puts items `from` … `from + n - 1` (each one byte, its number) in one batch. */
    const putRun = (n: number, from: number) =>
      put(
        s,
        "q",
        "",
        Array.from({ length: n }, (_, i) => bytes(from + i)),
        1,
        big,
      );
    const values = (rows: { value: Uint8Array }[]) => rows.map((r) => r.value[0]);
    const ids = (rows: { id: number }[]) => rows.map((r) => r.id);
    assert.deepEqual(await putRun(10, 0), { ok: true });
    const a = await take(s, "q", "", 3);
    const b = await take(s, "q", "", 2);
    assert.deepEqual(
      [values(a), values(b)],
      [
        [0, 1, 2],
        [3, 4],
      ],
    );
    await s.queueRelease("q", "", ids(a));
    // Back in place, ahead of what was never taken; b's items are still leased.
    const c = await take(s, "q", "", 4);
    assert.deepEqual(values(c), [0, 1, 2, 5]);
    assert.equal(await s.queueLen("q", ""), 4, "6..9 wait");
    // c's ids are not consecutive (3 and 4 are b's): acknowledging c leaves b's items alone.
    await s.queueAck("q", "", ids(c));
    await s.queueRelease("q", "", ids(b));
    assert.equal(await s.queueLen("q", ""), 6, "b's two are back beside 6..9");
    // The size counts items: 6 held, so 6 more fit and a 7th does not.
    assert.deepEqual(await put(s, "q", "", [bytes(10)], 1, { maxItems: 6, maxPartitions: 2 }), {
      ok: false,
      reason: "full",
      size: 6,
    });
    assert.deepEqual(await putRun(6, 10), { ok: true });
    const rest = await take(s, "q", "", 100);
    assert.deepEqual(values(rest), [3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], "FIFO across parts and batches");
    await s.queueAck("q", "", ids(rest));
    assert.equal(await s.queueLen("q", undefined), 0);
    assert.deepEqual((await putRun(12, 0)).ok, true);
  });

  withStore("queue: many items of mixed sizes come out whole and in order, whatever the take sizes", async (s) => {
    // Sizes up to 9 KiB: some batches hold items larger than a run (queue-runs.ts).
    const item = (i: number) => {
      const v = new Uint8Array(1 + ((i * 7919) % (i % 50 === 0 ? 9000 : 40)));
      v.fill(i & 0xff);
      return v;
    };
    const total = 1500;
    const lim = { maxItems: total, maxPartitions: 2 };
    for (let i = 0; i < total; ) {
      const n = Math.min([1, 700, 3, 300, 96][i % 5]!, total - i);
      assert.deepEqual(
        await put(
          s,
          "q",
          "p",
          Array.from({ length: n }, (_, j) => item(i + j)),
          1,
          lim,
        ),
        { ok: true },
      );
      i += n;
    }
    const got: Uint8Array[] = [];
    for (let k = 0; got.length < total; k++) {
      const rows = await take(s, "q", "p", [1, 257, 2, 600, 5][k % 5]!);
      assert.ok(rows.length > 0);
      got.push(...rows.map((r) => r.value));
      await s.queueAck(
        "q",
        "p",
        rows.map((r) => r.id),
      );
    }
    for (const [i, v] of got.entries()) assert.deepEqual(v, item(i), `item ${i}`);
    assert.equal(await s.queueLen("q", "p"), 0);
    assert.deepEqual((await put(s, "q", "p", [item(0)], 1, { maxItems: 1, maxPartitions: 2 })).ok, true, "size 0");
  });

  withStore("concurrent volume commits to different files all land", async (s) => {
    const h = (c: string) => c.repeat(64);
    await Promise.all(
      ["a", "b", "c", "d", "e", "f"].map((p) => s.volumeCommit("v", [{ path: p, hash: h(p), size: 1 }], 1)),
    );
    const latest = await s.volumeLatest("v");
    assert.equal(latest.version, 6);
    assert.deepEqual(
      latest.files.map((f) => f.path),
      ["a", "b", "c", "d", "e", "f"],
    );
  });
}
