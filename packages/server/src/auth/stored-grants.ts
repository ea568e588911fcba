import type { Store } from "../store/store.js";
import { type GrantStore, MAX_BLOB_GRANTS } from "./blob-grants.js";

let lastSeq = 0;
/**
 * Orders a token's grants, across restarts too: epoch µs, strictly increasing in a process (a
 * trim keeps exactly the newest however many were granted in one millisecond).
 */
function nextSeq(): number {
  lastSeq = Math.max(Date.now() * 1000, lastSeq + 1);
  return lastSeq;
}

/**
 * A scoped API token's blob grants in the store (table blob_grants), so that a client that was
 * sent a blob, or uploaded one, may still read it or pass it on after the server restarts.
 * The rule stays the same (only what it was sent or uploaded); only where it is kept changes.
 *
 * Bounded as the grants in memory are: every MAX_BLOB_GRANTS / 2 grants this process records
 * for a token, the token's rows are trimmed to the newest MAX_BLOB_GRANTS / 2, so a token holds
 * at most MAX_BLOB_GRANTS rows, and at most 1.5 × that just after a restart; a token's rows go
 * when it is revoked. Written in the store's group commit: one row per blob granted (a blob is
 * a payload over 1 MiB, so rows are few beside the bytes they name).
 */
export class StoredGrants implements GrantStore {
  private added = 0;
  private unsaved = false;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly tokenId: string,
    private readonly keep = MAX_BLOB_GRANTS / 2,
  ) {}

  add(id: string): void {
    this.store.addBlobGrant(this.tokenId, id, nextSeq());
    this.unsaved = true;
    if (++this.added >= this.keep) {
      this.store.trimBlobGrants(this.tokenId, this.keep);
      this.added = 0;
    }
  }

  has(id: string): Promise<boolean> {
    return this.store.hasBlobGrant(this.tokenId, id);
  }

  saved(): Promise<void> | undefined {
    if (this.unsaved) {
      this.unsaved = false;
      // flush() covers every write issued before it: the grants recorded so far.
      const p = this.store.flush();
      this.pending = p;
      const done = () => {
        if (this.pending === p) this.pending = undefined;
      };
      p.then(done, done);
    }
    return this.pending;
  }
}
