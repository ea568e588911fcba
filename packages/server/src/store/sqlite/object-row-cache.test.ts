import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ObjectRow } from "../object-store.js";
import { StoreCommitError } from "../store.js";
import { ObjectRowCache } from "./object-row-cache.js";
import { SqliteStore } from "./sqlite-store.js";

const row = (id: string): ObjectRow => ({
  id,
  kind: "dict",
  environment: "main",
  name: id,
  ownerApp: null,
  ownerSession: null,
  createdAt: 1,
});

function withStore(fn: (s: SqliteStore) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-rowcache-"));
    const s = new SqliteStore({ dataDir: dir });
    try {
      await fn(s);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe("ObjectRowCache", () => {
  it("keeps at most max rows, dropping the least recently used", () => {
    const c = new ObjectRowCache(2);
    c.set(row("di-a"));
    c.set(row("di-b"));
    assert.ok(c.get("di-a"), "a is now the most recent");
    c.set(row("di-c"));
    assert.equal(c.size, 2);
    assert.equal(c.get("di-b"), undefined, "b was least recently used");
    assert.ok(c.get("di-a"));
    assert.ok(c.get("di-c"));
  });

  it("hands out frozen copies: a caller cannot change what the next one reads", () => {
    const c = new ObjectRowCache();
    const r = row("di-a");
    c.set(r);
    r.environment = "other";
    assert.equal(c.get("di-a")?.environment, "main");
    assert.throws(() => {
      (c.get("di-a") as ObjectRow).environment = "other";
    }, TypeError);
  });
});

describe("SqliteObjectStore getObject through the row cache", () => {
  it(
    "answers from the cache, and not after the object is deleted",
    withStore(async (s) => {
      await s.objects.createObject(row("di-a"));
      assert.equal((await s.objects.getObject("di-a"))?.name, "di-a");
      assert.equal((await s.objects.getObject("di-a"))?.name, "di-a", "a second read (cached)");
      assert.equal(await s.objects.deleteObject("di-a"), true);
      assert.equal(await s.objects.getObject("di-a"), undefined);
    }),
  );

  it(
    "forgets rows of a window that was rolled back",
    withStore(async (s) => {
      const token = { id: "tk-1", secretHash: "h", kind: "api" as const, createdAt: 1 };
      s.insertToken(token);
      await s.flush();
      // One window: a write that fails (duplicate token) and a new object, read back before
      // the commit (read-your-writes) and so cached. The commit fails and rolls both back.
      s.insertToken(token);
      const created = s.objects.createObject(row("di-b"));
      assert.equal((await s.objects.getObject("di-b"))?.id, "di-b", "seen inside the window");
      await assert.rejects(created, StoreCommitError);
      assert.equal(await s.objects.getObject("di-b"), undefined, "gone with the rolled-back window");
    }),
  );

  it(
    "reads an object again when its delete was rolled back",
    withStore(async (s) => {
      await s.objects.createObject(row("di-c"));
      await s.objects.getObject("di-c");
      const token = { id: "tk-2", secretHash: "h", kind: "api" as const, createdAt: 1 };
      s.insertToken(token);
      await s.flush();
      s.insertToken(token);
      await assert.rejects(s.objects.deleteObject("di-c"), StoreCommitError);
      assert.equal((await s.objects.getObject("di-c"))?.id, "di-c", "the delete did not happen");
    }),
  );
});
