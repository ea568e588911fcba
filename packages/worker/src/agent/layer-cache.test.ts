import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { RemoteImage } from "@skiff/protocol";
import { type FetchPart, LayerCache } from "./layer-cache.js";

/** An image archive of one file, as the control plane makes them (tar of a root). */
function archiveOf(dir: string, name: string, text: string): { img: RemoteImage; bytes: Uint8Array } {
  const root = join(dir, `src-${name}`);
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc", "marker"), text);
  const file = join(dir, `${name}.tar`);
  execFileSync("tar", ["--create", "--file", file, "--directory", root, "--numeric-owner", "--sort=name", "."]);
  const bytes = readFileSync(file);
  const key = createHash("sha256").update(name).digest("hex");
  const archive = createHash("sha256").update(bytes).digest("hex");
  return { img: { key, archive, size: bytes.byteLength, env: { A: name } }, bytes };
}

/** Serves `bytes` in parts of 1000 bytes, counting requests. */
function server(bytes: Uint8Array): FetchPart & { calls: number } {
  const f = Object.assign(
    async (offset: number) => {
      f.calls++;
      return { data: bytes.subarray(offset, offset + 1000), size: bytes.byteLength };
    },
    { calls: 0 },
  );
  return f;
}

describe("worker image cache", () => {
  it("fetches an image archive in parts, verifies it, unpacks it, and hits the cache the second time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-lc-"));
    try {
      const { img, bytes } = archiveOf(dir, "one", "hello");
      const cache = new LayerCache(join(dir, "cache"), 1024 ** 3, () => new Set());
      const fetch = server(bytes);
      await cache.ensure(img, fetch);
      assert.ok(fetch.calls > 1, "in more than one part");
      const r = cache.resolve(img.key);
      assert.ok(r);
      assert.equal(readFileSync(join(r.root, "etc", "marker"), "utf8"), "hello");
      assert.deepEqual(r.env, { A: "one" });
      const calls = fetch.calls;
      await cache.ensure(img, fetch);
      assert.equal(fetch.calls, calls, "a hit fetches nothing");
      assert.deepEqual(cache.stats, { hits: 1, fetches: 1, evictions: 0, corrupt: 0 });
      // A new cache on the same directory (the worker restarted) still has it.
      const again = new LayerCache(join(dir, "cache"), 1024 ** 3, () => new Set());
      await again.ensure(img, fetch);
      assert.equal(again.stats.hits, 1);
      cache.close();
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses corrupt or missing archives with a clear error and caches nothing of them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-lc-"));
    try {
      const { img, bytes } = archiveOf(dir, "two", "world");
      const cache = new LayerCache(join(dir, "cache"), 1024 ** 3, () => new Set());
      const bad = Uint8Array.from(bytes);
      bad[600] = (bad[600] ?? 0) ^ 0xff;
      await assert.rejects(
        cache.ensure(img, server(bad)),
        /image archive [0-9a-f]{12}… arrived with the wrong content .*not used, not cached/,
      );
      assert.equal(cache.resolve(img.key), undefined);
      assert.equal(cache.stats.corrupt, 1);
      // The control plane does not have it (or says it is another size): the error is passed on.
      await assert.rejects(
        cache.ensure(img, async () => {
          throw new Error("image archive 0123456789ab… is not the image of container ct-1");
        }),
        /is not the image of container/,
      );
      await assert.rejects(
        cache.ensure(img, async () => ({ data: bytes.subarray(0, 10), size: bytes.byteLength + 1 })),
        /has \d+ bytes, not \d+/,
      );
      await assert.rejects(cache.ensure({ ...img, archive: "../../etc" }, server(bytes)), /is not a sha256/);
      // Nothing of the failures is left: no layer, and (once deleted in the background) no scratch.
      assert.deepEqual(readdirSync(join(dir, "cache", "layers")), []);
      const tmp = join(dir, "cache", "tmp");
      const left = () => readdirSync(tmp).flatMap((d) => readdirSync(join(tmp, d)).map((f) => `${d}/${f}`));
      for (let i = 0; i < 100 && (left().length > 0 || readdirSync(tmp).length > 1); i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(left(), [], "no scratch left");
      // The right bytes still work afterwards.
      await cache.ensure(img, server(bytes));
      assert.equal(readFileSync(join(cache.resolve(img.key)!.root, "etc", "marker"), "utf8"), "world");
      cache.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("evicts the least recently used image past its limit, never one in use", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-lc-"));
    try {
      const a = archiveOf(dir, "a", "A");
      const b = archiveOf(dir, "b", "B");
      const c = archiveOf(dir, "c", "C");
      const busy = new Set<string>();
      // Room for two archives.
      const cache = new LayerCache(join(dir, "cache"), a.bytes.byteLength * 2 + 10, () => busy);
      await cache.ensure(a.img, server(a.bytes));
      await new Promise((r) => setTimeout(r, 20));
      await cache.ensure(b.img, server(b.bytes));
      busy.add(a.img.key); // a is the least recently used, but a container runs in it
      await cache.ensure(c.img, server(c.bytes));
      assert.ok(cache.resolve(a.img.key), "in use: kept");
      assert.equal(cache.resolve(b.img.key), undefined, "evicted");
      assert.ok(cache.resolve(c.img.key));
      assert.equal(cache.stats.evictions, 1);
      cache.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
