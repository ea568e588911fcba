import { type LogEntry, OrderedMap } from "@skiff/protocol";
import type { Store } from "../store/store.js";

/** Lines kept per app for `skiff app logs`; older ones are trimmed. */
const KEEP_LINES_PER_APP = 10_000;
/** Bytes of log text kept per app (`skiff server --log-max-bytes`). */
export const DEFAULT_LOG_MAX_BYTES = 64 * 1024 * 1024;

/** Apps whose lines since their last trim are counted; past it, the one counted longest is trimmed then. */
const APPS_COUNTED = 4096;

/** Stores log lines and fans them out to followers (`skiff run`, `skiff app logs -f`). */
export class LogHub {
  private readonly followers = new Map<string, Set<(e: LogEntry) => void>>();
  /**
   * Lines and bytes each app wrote since its last trim. Bounded: an app that writes a little
   * and goes (each `skiff run` is a new app) would otherwise stay here for good; past
   * `appsCounted`, the app counted longest is trimmed at once and forgotten.
   */
  private readonly written: OrderedMap<string, { lines: number; bytes: number }>;
  /** Followers of every app's lines (the dashboard's live tail). */
  private readonly allFollowers = new Set<(e: LogEntry) => void>();

  constructor(
    private readonly store: Store,
    private readonly maxBytesPerApp = DEFAULT_LOG_MAX_BYTES,
    appsCounted = APPS_COUNTED,
  ) {
    this.written = new OrderedMap(appsCounted);
  }

  append(entries: LogEntry[]): void {
    if (entries.length === 0) return;
    this.store.appendLogs(entries);
    for (const e of entries) {
      let w = this.written.get(e.appId);
      if (!w) {
        w = { lines: 0, bytes: 0 };
        const evicted = this.written.set(e.appId, w);
        if (evicted) this.store.trimLogs(evicted[0], KEEP_LINES_PER_APP, this.maxBytesPerApp);
      }
      w.lines++;
      w.bytes += Buffer.byteLength(e.text);
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

  /**
   * Trims apps that wrote a lot since their last trim (run from the engine's tick): an app
   * holds at most its newest lines, and of those at most maxBytesPerApp bytes (plus what it
   * writes between two ticks).
   */
  trim(): void {
    for (const [appId, w] of this.written.entries()) {
      if (w.lines > 1000 || w.bytes > this.maxBytesPerApp / 16) {
        this.store.trimLogs(appId, KEEP_LINES_PER_APP, this.maxBytesPerApp);
        this.written.delete(appId);
      }
    }
  }
}
