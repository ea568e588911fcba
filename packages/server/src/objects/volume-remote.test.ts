import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RemoteVolumes } from "./volume-remote.js";
import type { Copy, VolumeService } from "./volume-service.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A volume service with one copy on a worker (container ct-1, volume vo-1) and a content dir. */
function setup(dir: string) {
  const commits: { path: string; hash: string | null; size: number }[][] = [];
  const copy: Copy = {
    volumeId: "vo-1",
    dir: "",
    readOnly: false,
    version: 1,
    known: new Map(),
    placed: false,
    remote: async () => ({ version: 0 }),
  };
  const service = {
    contentPath: (hash: string) => join(dir, "content", hash.slice(0, 2), hash),
    copyFor: (c: string, v: string) => (c === "ct-1" && v === "vo-1" ? copy : undefined),
    objectStore: {
      volumeLatest: async () => ({ version: 1, files: [] }),
      volumeCommit: async (_id: string, changes: { path: string; hash: string | null; size: number }[]) => {
        commits.push(changes);
        return { version: 1 + commits.length };
      },
    },
    prune: async () => {},
    read: async () => new Uint8Array(),
  } as unknown as VolumeService;
  return { remote: new RemoteVolumes(service, join(dir, "uploads")), copy, commits, dir };
}

describe("volume copies on workers: the control plane's side", () => {
  it("takes a file in parts, stores it only when its hash matches, and commits what was uploaded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-vr-"));
    try {
      const { remote, commits, copy } = setup(dir);
      const sync = {};
      const data = new Uint8Array(3000).map((_, i) => i % 251);
      const hash = sha(data);
      const put = (offset: number, part: Uint8Array, h = hash) =>
        remote.put(sync, { hash: h, size: data.byteLength, offset, data: part });
      assert.deepEqual(await put(0, data.subarray(0, 1000)), { done: false });
      // A part that does not follow: refused, naming it.
      await assert.rejects(put(2000, data.subarray(2000)), /part at 2000 of [0-9a-f]{12}… does not follow/);
      assert.deepEqual(await put(1000, data.subarray(1000, 2000)), { done: false });
      assert.deepEqual(await put(2000, data.subarray(2000)), { done: true });
      const stored = join(dir, "content", hash.slice(0, 2), hash);
      assert.deepEqual(readFileSync(stored), Buffer.from(data));
      // Already there: done at the first part, nothing more sent.
      assert.deepEqual(await put(0, data.subarray(0, 1000)), { done: true });

      // Content that does not hash to what the worker named: refused, not stored.
      const lie = sha(new Uint8Array([1, 2, 3]));
      await assert.rejects(
        remote.put(sync, { hash: lie, size: 3, offset: 0, data: new Uint8Array([9, 9, 9]) }),
        /hashes to [0-9a-f]{12}… \(the file changed while it was committed\?\): not stored/,
      );
      assert.equal(existsSync(join(dir, "content", lie.slice(0, 2), lie)), false);
      assert.deepEqual(readdirSync(join(dir, "uploads")), [], "no upload left behind");

      // A commit may name only content that was uploaded, and paths inside the volume.
      await assert.rejects(
        remote.commit("ct-1", "vo-1", [{ path: "a.txt", hash: lie, size: 3 }]),
        /content [0-9a-f]{12}… of "a\.txt" was not uploaded/,
      );
      await assert.rejects(
        remote.commit("ct-1", "vo-1", [{ path: "../etc/passwd", hash, size: 3000 }]),
        /escapes the volume's root/,
      );
      await assert.rejects(remote.commit("ct-2", "vo-1", []), /container ct-2 has no copy of volume vo-1 on a worker/);
      assert.deepEqual(commits, []);
      assert.deepEqual(
        await remote.commit("ct-1", "vo-1", [
          { path: "dir/a.bin", hash, size: 3000 },
          { path: "gone.txt", hash: null, size: 0 },
        ]),
        { version: 2 },
      );
      assert.equal(copy.version, 2, "the copy is at the version it made");
      assert.deepEqual(commits, [
        [
          { path: "dir/a.bin", hash, size: 3000 },
          { path: "gone.txt", hash: null, size: 0 },
        ],
      ]);
      copy.readOnly = true;
      await assert.rejects(remote.commit("ct-1", "vo-1", []), /mounted read-only/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serves only content of the version the copy was handed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-vr-"));
    try {
      const { remote } = setup(dir);
      await remote.manifest("ct-1", "vo-1");
      await assert.rejects(
        remote.read("ct-1", "vo-1", "a".repeat(64), 0),
        /content aaaaaaaaaaaa… is not in the version of volume vo-1 this copy was handed/,
      );
      await assert.rejects(remote.manifest("ct-1", "vo-2"), /has no copy of volume vo-2 on a worker/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
