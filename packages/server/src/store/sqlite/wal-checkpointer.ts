import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * The worker's code (CommonJS, run with `eval`, so that it needs no file of its own next to
 * the compiled or the tsx-run source): its own connection to the database, which runs a
 * PASSIVE checkpoint each time it is asked and answers with SQLite's [busy, log, checkpointed].
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 5000");
// Only this connection's own checkpoints: it never writes, so it would never run one anyway.
db.pragma("wal_autocheckpoint = 0");
parentPort.on("message", (m) => {
  if (m === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const r = db.pragma("wal_checkpoint(PASSIVE)")[0];
    parentPort.postMessage({ ok: true, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.message || err) });
  }
});
`;

export interface WalCheckpointerOptions {
  /** The database file (its WAL is `<file>-wal`). */
  file: string;
  /** Commits after which a checkpoint is asked for. @defaultValue 32 */
  everyCommits?: number;
  /** Least time between the end of one checkpoint and the next request (ms). @defaultValue 50 */
  minGapMs?: number;
  /** Told when a checkpoint fails (the next is asked for as usual). */
  log?: (msg: string) => void;
}

/**
 * Checkpoints the WAL on a worker thread, with a connection of its own, so that the event
 * loop's commits never copy pages into the database file or wait for its fsync (SQLite's
 * automatic checkpoint runs inside the COMMIT that crosses its threshold: on a busy disk,
 * milliseconds every few hundred Dict puts). PASSIVE: it copies what no reader still needs and
 * never blocks the writer; once it has copied everything, the writer's next transaction starts
 * the WAL file over from its beginning, so the file stays about as large as what is written
 * between two checkpoints... when it catches up. Under a steady stream of commits it trails
 * the writer by the last few (frames a transaction began after it cannot copy yet), and SQLite
 * starts the WAL over only after a checkpoint that copied every frame: the writer's own
 * automatic checkpoint does that, at a higher threshold than SQLite's default
 * (sqlite-store.ts), and then finds nearly every frame copied and synced already, so what
 * it costs the event loop is small.
 *
 * One at a time; the thread starts at the first request (a short-lived `skiff run` that
 * commits little never starts it).
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private commits = 0;
  private running = false;
  private closed = false;
  private readonly everyCommits: number;
  private readonly minGapMs: number;
  private lastEnd = 0;
  private readonly log: (msg: string) => void;
  /** Checkpoints finished (for tests and metrics). */
  done = 0;

  constructor(private readonly opts: WalCheckpointerOptions) {
    this.everyCommits = opts.everyCommits ?? 32;
    this.minGapMs = opts.minGapMs ?? 50;
    this.log = opts.log ?? (() => {});
  }

  /**
   * Called after each commit: asks for a checkpoint once `everyCommits` commits have been made
   * and `minGapMs` have passed since the last one ended (each costs two fsyncs: not after
   * every few small commits).
   */
  committed(): void {
    if (++this.commits < this.everyCommits || this.running || this.closed) return;
    if (performance.now() - this.lastEnd < this.minGapMs) return;
    this.commits = 0;
    this.running = true;
    this.start().postMessage("checkpoint");
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver: createRequire(import.meta.url).resolve("better-sqlite3"), file: this.opts.file },
    });
    // The server's exit never waits for this thread.
    w.unref();
    w.on("message", (m: { ok: boolean; error?: string }) => {
      this.running = false;
      this.lastEnd = performance.now();
      if (m.ok) this.done++;
      else this.log(`WAL checkpoint failed: ${m.error} (the next one is tried after ${this.everyCommits} commits)`);
    });
    w.on("error", (err) => {
      this.running = false;
      this.worker = undefined;
      this.log(`WAL checkpoint thread failed: ${err.message} (a new one starts at the next checkpoint)`);
    });
    this.worker = w;
    return w;
  }

  /** Stops the thread; resolves once its connection is closed. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    const exited = new Promise<void>((r) => w.once("exit", () => r()));
    // Held while it closes: an unref'd thread would let the loop end with this await pending.
    w.ref();
    w.postMessage("close");
    await exited;
  }
}
