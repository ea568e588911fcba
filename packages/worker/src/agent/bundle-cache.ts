import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const BLOB_ID = /^bl-[0-9a-f]{64}$/;

/** sha256 of the bytes, as a blob id. */
export function blobIdOf(bytes: Uint8Array): string {
  return `bl-${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * App bundles on a worker, by content id (`bl-<sha256>`): fetched once, verified against their
 * id on the way in and on every read, and kept under a size limit by evicting the least
 * recently used. A container start that finds its bundle here costs no transfer.
 */
export class BundleCache {
  /** id -> bytes, in use order (Map order: least recent first). */
  private readonly entries = new Map<string, number>();
  private bytes = 0;
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  /** What the cache did, for `skiff worker` logs and tests. */
  readonly stats = { hits: 0, fetches: 0, evictions: 0, corrupt: 0 };

  constructor(
    private readonly dir: string,
    private readonly limitBytes: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const found: { id: string; size: number; at: number }[] = [];
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (!BLOB_ID.test(name)) {
        rmSync(path, { force: true, recursive: true }); // a half-written file of a crashed worker
        continue;
      }
      const st = statSync(path);
      found.push({ id: name, size: st.size, at: st.mtimeMs });
    }
    for (const f of found.sort((a, b) => a.at - b.at)) {
      this.entries.set(f.id, f.size);
      this.bytes += f.size;
    }
    this.evict();
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** The bundle `id`, from here or (once, however many ask at the same time) from `fetch`. */
  get(id: string, fetch: () => Promise<Uint8Array>): Promise<Uint8Array> {
    if (!BLOB_ID.test(id)) return Promise.reject(new Error(`not a content id: ${JSON.stringify(id)}`));
    const local = this.read(id);
    if (local) {
      this.stats.hits++;
      return Promise.resolve(local);
    }
    let p = this.inflight.get(id);
    if (!p) {
      p = fetch()
        .then((bytes) => {
          const got = blobIdOf(bytes);
          if (got !== id) throw new Error(`bundle ${id} arrived with the wrong content (${got}): not used`);
          this.stats.fetches++;
          this.write(id, bytes);
          return bytes;
        })
        .finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  private read(id: string): Uint8Array | undefined {
    if (!this.entries.has(id)) return undefined;
    const path = join(this.dir, id);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      this.drop(id);
      return undefined;
    }
    if (blobIdOf(bytes) !== id) {
      // Changed on disk since: fetched again.
      this.stats.corrupt++;
      this.drop(id);
      return undefined;
    }
    const size = this.entries.get(id)!;
    this.entries.delete(id);
    this.entries.set(id, size);
    return bytes;
  }

  private write(id: string, bytes: Uint8Array): void {
    if (bytes.byteLength > this.limitBytes) return; // used once, not kept
    const tmp = join(this.dir, `.${id}.${process.pid}`);
    writeFileSync(tmp, bytes, { mode: 0o600 });
    renameSync(tmp, join(this.dir, id));
    if (!this.entries.has(id)) this.bytes += bytes.byteLength;
    this.entries.delete(id);
    this.entries.set(id, bytes.byteLength);
    this.evict();
  }

  private drop(id: string): void {
    const size = this.entries.get(id);
    if (size === undefined) return;
    this.entries.delete(id);
    this.bytes -= size;
    rmSync(join(this.dir, id), { force: true });
  }

  private evict(): void {
    for (const id of this.entries.keys()) {
      if (this.bytes <= this.limitBytes) break;
      this.drop(id);
      this.stats.evictions++;
    }
  }
}
