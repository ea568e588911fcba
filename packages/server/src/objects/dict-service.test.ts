import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { StoredValue } from "../store/object-store.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { DictService } from "./dict-service.js";
import { DEFAULT_OBJECT_LIMITS } from "./limits.js";

const v = (n: number) => ({ inline: new Uint8Array([n]) });
/** The inline bytes of a stored value (these tests write no blobs). */
const bytesOf = (x: StoredValue | undefined) => (x && "inline" in x ? x.inline : undefined);

function withStore(fn: (s: SqliteStore) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-dict-idle-"));
    const s = new SqliteStore({ dataDir: dir });
    try {
      await fn(s);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe("Dict idle times (SQLite)", () => {
  it(
    "an overwrite within touchAfter writes the value and keeps the idle time; a later one refreshes it",
    withStore(async (s) => {
      const o = s.objects;
      await o.dictPut("di-a", "s:fresh", v(1), 1000, false, 100);
      assert.equal(await o.dictPut("di-a", "s:fresh", v(2), 1050, false, 100), true);
      assert.deepEqual(bytesOf(await o.dictGet("di-a", "s:fresh", 1050, 100)), new Uint8Array([2]));
      await o.dictPut("di-a", "s:late", v(1), 1000, false, 100);
      await o.dictPut("di-a", "s:late", v(2), 1200, false, 100);
      await o.dictPut("di-a", "s:exact", v(1), 1000, false, 0);
      await o.dictPut("di-a", "s:exact", v(2), 1050, false, 0);
      // Stored times now: fresh 1000 (kept), late 1200, exact 1050 (touchAfter 0: always set).
      assert.equal(await o.dictExpire(1001), 1, "fresh kept its first time");
      assert.equal(await o.dictGet("di-a", "s:fresh", 1100, 1e9), undefined);
      assert.equal(await o.dictExpire(1100), 1, "exact was refreshed to 1050");
      assert.deepEqual(bytesOf(await o.dictGet("di-a", "s:late", 1200, 1e9)), new Uint8Array([2]));
    }),
  );

  it(
    "dictUpdate keeps fresh idle times too, and writes new keys",
    withStore(async (s) => {
      const o = s.objects;
      await o.dictPut("di-a", "s:x", v(1), 1000, false, 100);
      await o.dictUpdate(
        "di-a",
        [
          ["s:x", v(2)],
          ["s:y", v(3)],
        ],
        1050,
        100,
      );
      assert.deepEqual(bytesOf(await o.dictGet("di-a", "s:x", 1050, 1e9)), new Uint8Array([2]));
      assert.equal(await o.dictExpire(1001), 1, "x kept 1000");
      assert.deepEqual(bytesOf(await o.dictGet("di-a", "s:y", 1050, 1e9)), new Uint8Array([3]));
    }),
  );

  it(
    "the sweep drops no entry idle for less than the TTL, though its stored time may be stale",
    withStore(async (s) => {
      const ttl = 100_000; // touchAfter: 10 000
      const dicts = new DictService(s.objects, { ...DEFAULT_OBJECT_LIMITS, dictIdleTtlMs: ttl }, async () => 0);
      const p = Date.now();
      // Written 5 s ago, then overwritten now: the overwrite keeps the stored time p - 5000.
      await s.objects.dictPut("di-a", "s:k", v(1), p - 5000, false, 0);
      await dicts.put("di-a", "a", "s:k", v(2), false);
      assert.equal(await dicts.expire(p + ttl - 1000), 0, "written ttl - 1 s ago: stays");
      assert.deepEqual(bytesOf(await dicts.get("di-a", "s:k")), new Uint8Array([2]));
      // Idle well past the TTL (and past the stored time's slack): goes.
      assert.equal(await dicts.expire(p + ttl + 20_000), 1);
    }),
  );
});
