import type { LogEntry } from "@skiff/protocol";
import type { Store } from "../store/store.js";

/** Lines kept per app for `skiff app logs`; older ones are trimmed. */
const KEEP_PER_APP = 10_000;

/** Stores log lines and fans them out to followers (`skiff run`, `skiff app logs -f`). */
export class LogHub {
  private readonly followers = new Map<string, Set<(e: LogEntry) => void>>();
  private readonly written = new Map<string, number>();
  /** Followers of every app's lines (the dashboard's live tail). */
  private readonly allFollowers = new Set<(e: LogEntry) => void>();

  constructor(private readonly store: Store) {}

  append(entries: LogEntry[]): void {
    if (entries.length === 0) return;
    this.store.appendLogs(entries);
    for (const e of entries) {
      this.written.set(e.appId, (this.written.get(e.appId) ?? 0) + 1);
      const fs = this.followers.get(e.appId);
      if (fs) for (const f of fs) f(e);
      for (const f of this.allFollowers) f(e);
    }
  }

  follow(appId: string, fn: (e: LogEntry) => void): () => void {
    let set = this.followers.get(appId);
    if (!set) {
      set = new Set();
      this.followers.set(appId, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.followers.delete(appId);
    };
  }

  /** Follows every app's lines; returns the unfollow function. */
  followAll(fn: (e: LogEntry) => void): () => void {
    this.allFollowers.add(fn);
    return () => this.allFollowers.delete(fn);
  }

  /** Trims apps that wrote a lot since the last call (run from the engine's tick). */
  trim(): void {
    for (const [appId, n] of this.written) {
      if (n > 1000) {
        this.store.trimLogs(appId, KEEP_PER_APP);
        this.written.set(appId, 0);
      }
    }
  }
}
