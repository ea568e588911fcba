/**
 * The app bundles containers were handed most recently, by blob id. Every container start
 * sent its runtime the bundle read from the blob store (stat, open, read, close: four trips
 * through libuv's thread pool, 50 ms of a cold start on a loaded machine, and a hundred reads
 * of one file in a fan-out). Blobs are content-addressed, so a cached bundle never goes
 * stale. Bounded: at most MAX_ENTRIES bundles and MAX_BYTES in all, least recently used out.
 */
const MAX_ENTRIES = 8;
const MAX_BYTES = 64 * 1024 * 1024;

export class BundleCache {
  /** Reads in flight, shared by the starts that want the same bundle meanwhile. */
  private readonly reading = new Map<string, Promise<Uint8Array | undefined>>();
  /** Map order: least recently used first. */
  private readonly entries = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(
    private readonly read: (blobId: string) => Promise<Uint8Array | undefined>,
    private readonly limits = { entries: MAX_ENTRIES, bytes: MAX_BYTES },
  ) {}

  get(blobId: string): Promise<Uint8Array | undefined> {
    const hit = this.entries.get(blobId);
    if (hit) {
      this.entries.delete(blobId);
      this.entries.set(blobId, hit);
      return Promise.resolve(hit);
    }
    let p = this.reading.get(blobId);
    if (!p) {
      p = this.read(blobId).then(
        (bytes) => {
          this.reading.delete(blobId);
          if (bytes) this.keep(blobId, bytes);
          return bytes;
        },
        (err: unknown) => {
          this.reading.delete(blobId);
          throw err;
        },
      );
      this.reading.set(blobId, p);
    }
    return p;
  }

  /** Cached now (tests): entries and bytes. */
  size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private keep(blobId: string, bytes: Uint8Array): void {
    if (bytes.byteLength > this.limits.bytes || this.entries.has(blobId)) return;
    this.entries.set(blobId, bytes);
    this.bytes += bytes.byteLength;
    for (const [id, b] of this.entries) {
      if (this.entries.size <= this.limits.entries && this.bytes <= this.limits.bytes) break;
      this.entries.delete(id);
      this.bytes -= b.byteLength;
    }
  }
}
