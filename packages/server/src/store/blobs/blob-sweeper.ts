import type { Store } from "../store.js";
import type { BlobStore } from "./blob-store.js";

export interface BlobSweeperOptions {
  blobs: BlobStore;
  store: Store;
  /** Blobs memory still refers to (live inputs, outcomes not yet read or read a moment ago). */
  inUse: () => Set<string>;
  /** A blob younger than this is never taken: its reference may be on its way. @defaultValue 30_000 */
  graceMs?: number;
  /** How often to sweep. @defaultValue 15_000 */
  everyMs?: number;
  log: (msg: string) => void;
}

/**
 * Blob housekeeping: deletes blobs nothing refers to any more (a `.remote` result once read,
 * a result past its retention, an upload never used), so the blob directory stays the size
 * of what the store and memory hold. A blob goes within graceMs + everyMs of losing its last
 * reference.
 */
export class BlobSweeper {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<number> | undefined;

  constructor(private readonly o: BlobSweeperOptions) {
    this.timer = setInterval(() => {
      this.sweep().catch((err: Error) => o.log(`blob sweep failed (retried later): ${err.message}`));
    }, o.everyMs ?? 15_000);
    this.timer.unref();
  }

  /** One sweep (never two at once); how many blobs it deleted. */
  sweep(now = Date.now()): Promise<number> {
    this.running ??= this.sweepOnce(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweepOnce(now: number): Promise<number> {
    const cutoff = now - (this.o.graceMs ?? 30_000);
    let deleted = 0;
    for await (const batch of this.o.blobs.listOlderThan(cutoff)) {
      const referenced = await this.o.store.referencedBlobs(batch);
      const inUse = this.o.inUse();
      for (const id of batch) {
        if (referenced.has(id) || inUse.has(id)) continue;
        await this.o.blobs.delete(id, cutoff);
        deleted++;
      }
    }
    return deleted;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }
}
