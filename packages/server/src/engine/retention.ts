import type { Store } from "../store/store.js";

/** How often results past retention are expired, at most (their blobs go at the next sweep). */
const EVERY_MS = 15_000;
/** Rows one pass deletes, at most: a backlog is worked off a pass per tick, not in one commit. */
const BATCH = 10_000;
/** Stopped apps stay listed (`skiff app list`) this long, unless results are kept for less. */
export const STOPPED_APPS_LISTED_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps the store's call and app rows bounded over time (docs/operations.md, "Retention"):
 *
 * - an ended call (done or cancelled) past its expiry loses its outcome and inputs and
 *   answers `get()` with "expired";
 * - that small expired row is kept as long again as the retention, then deleted (`get()`
 *   then answers "not found");
 * - a stopped ephemeral app (each `skiff run` makes one) is forgotten once it has been
 *   stopped for the retention (or a day, if shorter) and no unexpired call refers to it: its
 *   rows, functions, deployments, class instances and logs, so its bundle can be swept;
 * - a class instance (a parameter set, an option variant) of a live app unused for the
 *   retention, with nothing pending on it, is dropped; binding the same parameters again
 *   writes it again (its id comes from them). Those live in memory count as used at each pass.
 *
 * Deployed apps keep their newest deployments (AppService trims them at each deploy).
 */
export class Retention {
  private last = 0;
  /** A pass that hit BATCH runs again at the next tick. */
  private behind = false;
  private running = false;
  private readonly everyMs: number;

  constructor(
    private readonly store: Store,
    private readonly retentionMs: number,
    private readonly log: (msg: string) => void,
    /** Also run at each pass (the resumable maps' rows: engine/map-resume.ts). */
    private readonly alsoExpire: (now: number) => Promise<unknown>,
    /** The ids of the class instances live in memory now. */
    private readonly liveInstances: () => string[] = () => [],
  ) {
    // A short retention (tests, small disks) is enforced about as promptly as it is short.
    this.everyMs = Math.min(EVERY_MS, Math.max(250, Math.floor(retentionMs / 4)));
  }

  /** Called from the engine's tick; runs a pass when one is due. */
  tick(now: number): void {
    if (this.running || (!this.behind && now - this.last < this.everyMs)) return;
    this.last = now;
    this.running = true;
    this.pass(now)
      .catch((err: unknown) => this.log(`retention pass failed (it is retried): ${(err as Error).message}`))
      .finally(() => {
        this.running = false;
      });
  }

  private async pass(now: number): Promise<void> {
    this.behind = false;
    await this.store.expireCalls(now);
    await this.alsoExpire(now);
    this.store.trimGraph(now - this.retentionMs);
    const calls = await this.store.forgetExpiredCalls(now - this.retentionMs, BATCH);
    const apps = await this.store.forgetApps(now - Math.min(this.retentionMs, STOPPED_APPS_LISTED_MS), BATCH / 100);
    this.store.touchClassInstances(this.liveInstances(), now);
    const instances = await this.store.forgetClassInstances(now - this.retentionMs, BATCH / 10);
    if (instances > 0) this.log(`dropped ${instances} class instance(s) unused for the retention`);
    this.behind = calls === BATCH || apps === BATCH / 100 || instances === BATCH / 10;
  }
}
