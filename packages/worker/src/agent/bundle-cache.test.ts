import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BundleCache, blobIdOf } from "./bundle-cache.js";

const bytes = (s: string) => new TextEncoder().encode(s.repeat(100));

describe("bundle cache", () => {
  it("fetches once, verifies, evicts the least recently used past its limit, and refetches a corrupted file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-bc-"));
    try {
      const cache = new BundleCache(dir, 250);
      const [a, b, c] = [bytes("a"), bytes("b"), bytes("c")];
      let fetches = 0;
      const get = (x: Uint8Array) =>
        cache.get(blobIdOf(x), async () => {
          fetches++;
          return x;
        });
      await Promise.all([get(a), get(a)]);
      assert.equal(fetches, 1, "two containers at once share one fetch");
      await get(b);
      await get(a); // a is now the most recent
      await get(c); // over 250 bytes: b goes
      assert.equal(cache.stats.evictions, 1);
      assert.deepEqual(readdirSync(dir).sort(), [blobIdOf(a), blobIdOf(c)].sort());
      assert.equal(fetches, 3);
      await get(a);
      assert.equal(fetches, 3, "a hit");
      // Wrong bytes from the server: refused, not cached.
      await assert.rejects(
        cache.get(blobIdOf(bytes("d")), async () => bytes("x")),
        /arrived with the wrong content/,
      );
      // A cached file changed on disk: fetched again.
      writeFileSync(join(dir, blobIdOf(c)), "tampered");
      await get(c);
      assert.equal(fetches, 4);
      assert.equal(cache.stats.corrupt, 1);
      // A new cache over the same directory keeps what is there.
      const again = new BundleCache(dir, 250);
      assert.equal(again.sizeBytes, 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
