import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { BLOB_ID, type BlobStore, type BlobUpload } from "./blob-store.js";

/**
 * Blobs as files under one directory (the default: <data dir>/blobs): `ab/bl-ab…` by the
 * first two hex digits of the hash, written to `.tmp/` first and renamed into place once
 * synced, so a crash leaves whole blobs or none (leftover temp files are removed at open).
 */
export class FsBlobStore implements BlobStore {
  private readonly tmp: string;
  private readonly dir: string;
  private readonly ready: Promise<void>;

  constructor(dir: string) {
    this.dir = dir;
    const tmp = join(dir, ".tmp");
    this.tmp = tmp;
    this.ready = (async () => {
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true, mode: 0o700 });
    })();
  }

  private path(id: string): string {
    if (!BLOB_ID.test(id)) throw new Error(`not a blob id: ${JSON.stringify(id)}`);
    return join(this.dir, id.slice(3, 5), id);
  }

  begin(): BlobUpload {
    const tmpPath = join(this.tmp, randomBytes(12).toString("hex"));
    const hash = createHash("sha256");
    let fh: Promise<FileHandle> | undefined;
    let size = 0;
    let done = false;
    const file = () => {
      fh ??= this.ready.then(() => open(tmpPath, "w", 0o600));
      return fh;
    };
    const finishBlob = async (h: FileHandle): Promise<string> => {
      await h.sync();
      await h.close();
      const id = `bl-${hash.digest("hex")}`;
      const dest = this.path(id);
      const existing = await stat(dest).catch(() => undefined);
      if (existing) {
        await rm(tmpPath, { force: true });
        const now = new Date();
        await utimes(dest, now, now); // young again: a sweep leaves it alone for a while
        return id;
      }
      await mkdir(join(this.dir, id.slice(3, 5)), { recursive: true, mode: 0o700 });
      await rename(tmpPath, dest);
      await syncDir(join(this.dir, id.slice(3, 5)));
      return id;
    };
    return {
      get size() {
        return size;
      },
      async write(chunk: Uint8Array) {
        if (done) throw new Error("this upload is over");
        const h = await file();
        let off = 0;
        while (off < chunk.byteLength) off += (await h.write(chunk, off, chunk.byteLength - off)).bytesWritten;
        hash.update(chunk);
        size += chunk.byteLength;
      },
      async finish() {
        if (done) throw new Error("this upload is over");
        done = true;
        const h = await file();
        try {
          return await finishBlob(h);
        } catch (err) {
          await h.close().catch(() => {});
          await rm(tmpPath, { force: true });
          throw err;
        }
      },
      async abort() {
        if (done) return;
        done = true;
        if (fh) await (await fh).close().catch(() => {});
        await rm(tmpPath, { force: true });
      },
    };
  }

  async put(data: Uint8Array): Promise<string> {
    const u = this.begin();
    try {
      await u.write(data);
      return await u.finish();
    } catch (err) {
      await u.abort();
      throw err;
    }
  }

  async size(id: string): Promise<number | undefined> {
    if (!BLOB_ID.test(id)) return undefined;
    return (await stat(this.path(id)).catch(() => undefined))?.size;
  }

  async read(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    if (!BLOB_ID.test(id)) return undefined;
    const h = await open(this.path(id), "r").catch(() => undefined);
    if (!h) return undefined;
    try {
      const size = (await h.stat()).size;
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await h.read(buf, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, got);
    } finally {
      await h.close();
    }
  }

  async get(id: string): Promise<Uint8Array | undefined> {
    const size = await this.size(id);
    return size === undefined ? undefined : this.read(id, 0, size);
  }

  async *listOlderThan(before: number): AsyncIterable<string[]> {
    await this.ready;
    const shards = (await readdir(this.dir).catch(() => [] as string[])).filter((d) => /^[0-9a-f]{2}$/.test(d));
    for (const shard of shards) {
      const batch: string[] = [];
      for (const name of await readdir(join(this.dir, shard)).catch(() => [] as string[])) {
        if (!BLOB_ID.test(name)) continue;
        const st = await stat(join(this.dir, shard, name)).catch(() => undefined);
        if (st && st.mtimeMs < before) batch.push(name);
      }
      if (batch.length > 0) yield batch;
    }
  }

  async delete(id: string, unlessWrittenSince?: number): Promise<void> {
    const path = this.path(id);
    if (unlessWrittenSince !== undefined) {
      const st = await stat(path).catch(() => undefined);
      if (!st || st.mtimeMs >= unlessWrittenSince) return;
    }
    await rm(path, { force: true });
  }

  async usage(): Promise<{ blobs: number; bytes: number }> {
    let blobs = 0;
    let bytes = 0;
    for await (const batch of this.listOlderThan(Number.POSITIVE_INFINITY)) {
      for (const id of batch) {
        const s = await this.size(id);
        if (s !== undefined) {
          blobs++;
          bytes += s;
        }
      }
    }
    return { blobs, bytes };
  }
}

/** A rename is durable once its directory is synced. */
async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
