import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { BlobGrants } from "./blob-grants.js";
import { StoredGrants } from "./stored-grants.js";

async function withStore(fn: (dir: string, s: SqliteStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-grants-"));
  const s = new SqliteStore({ dataDir: dir, commitDelayMs: 20 });
  try {
    await fn(dir, s);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("StoredGrants", () => {
  it("a scoped token's grants are recalled from the store after a restart, per token", () =>
    withStore(async (dir, store) => {
      const g = new BlobGrants(8, new StoredGrants(store, "tk-a"));
      g.add("bl-1");
      assert.ok(g.saved(), "a grant waits for its commit");
      await g.saved();
      assert.equal(g.saved(), undefined, "nothing waits once committed");
      const reopened = new SqliteStore({ dataDir: dir });
      try {
        const after = new BlobGrants(8, new StoredGrants(reopened, "tk-a"));
        assert.equal(after.has("bl-1"), false, "memory starts empty");
        assert.equal(await after.recall("bl-1"), true);
        assert.equal(after.has("bl-1"), true, "recalled into memory");
        assert.equal(await after.recall("bl-2"), false);
        const other = new BlobGrants(8, new StoredGrants(reopened, "tk-b"));
        assert.equal(await other.recall("bl-1"), false, "another token was not given it");
      } finally {
        await reopened.close();
      }
      // A container's grants have no store: a miss is a refusal.
      assert.equal(await new BlobGrants(8).recall("bl-1"), false);
    }));

  it("keeps at most twice its trim size per token, the newest", () =>
    withStore(async (_dir, store) => {
      const g = new BlobGrants(8, new StoredGrants(store, "tk-a", 4));
      for (let i = 1; i <= 10; i++) g.add(`bl-${i}`);
      await g.saved();
      const stored = new StoredGrants(store, "tk-a");
      const held: number[] = [];
      for (let i = 1; i <= 10; i++) if (await stored.has(`bl-${i}`)) held.push(i);
      // Trimmed to the newest 4 at the 4th and 8th add: 5..8, then 9 and 10 added.
      assert.deepEqual(held, [5, 6, 7, 8, 9, 10]);
    }));
});
