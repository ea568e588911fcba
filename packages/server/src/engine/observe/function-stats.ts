import type { MinutePoint } from "@skiff/protocol";

/** Upper bounds (ms) of the duration and queue-wait histograms; the last bucket is +Inf. */
export const DURATION_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

/** Finished inputs kept for p50/p99 (a ring: the newest replace the oldest). */
const RECENT = 1024;
/** Minutes of history kept (the dashboard's last hour). */
const MINUTES = 60;

/** A histogram with fixed buckets: counts per bucket (not cumulative), sum and count. */
export class Histogram {
  readonly counts = new Float64Array(DURATION_BUCKETS_MS.length + 1);
  sum = 0;
  count = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < DURATION_BUCKETS_MS.length && ms > DURATION_BUCKETS_MS[i]!) i++;
    this.counts[i]!++;
    this.sum += ms;
    this.count++;
  }
}

/**
 * One function's live numbers: totals since start, a ring of recent durations (percentiles)
 * and a ring of per-minute points (the last hour). Everything is fixed-size, and recording is
 * a few array writes: it runs once per input on the hot path. The minute comes from a clock
 * the engine advances on its tick, so recording reads no time itself.
 */
export class FunctionStats {
  accepted = 0;
  succeeded = 0;
  failed = 0;
  retried = 0;
  coldStarts = 0;
  readonly duration = new Histogram();
  readonly queueWait = new Histogram();
  private readonly recent = new Float64Array(RECENT);
  private recentN = 0;
  /** Minute index (epoch ms / 60 000) each slot holds. */
  private readonly slotMinute = new Float64Array(MINUTES).fill(-1);
  private readonly calls = new Float64Array(MINUTES);
  private readonly failures = new Float64Array(MINUTES);
  private readonly colds = new Float64Array(MINUTES);
  private readonly backlog = new Float64Array(MINUTES);
  private readonly running = new Float64Array(MINUTES);

  constructor(private readonly clock: { minute: number }) {}

  private slot(): number {
    const m = this.clock.minute;
    const i = m % MINUTES;
    if (this.slotMinute[i] !== m) {
      this.slotMinute[i] = m;
      this.calls[i] = 0;
      this.failures[i] = 0;
      this.colds[i] = 0;
      this.backlog[i] = 0;
      this.running[i] = 0;
    }
    return i;
  }

  /** An input ended (success or not), after running `durationMs` (NaN when unknown). */
  finished(ok: boolean, durationMs: number): void {
    const i = this.slot();
    this.calls[i]!++;
    if (ok) this.succeeded++;
    else {
      this.failed++;
      this.failures[i]!++;
    }
    if (durationMs >= 0) {
      this.duration.observe(durationMs);
      this.recent[this.recentN++ % RECENT] = durationMs;
    }
  }

  coldStart(): void {
    this.coldStarts++;
    this.colds[this.slot()]!++;
  }

  /** Samples the backlog and running inputs (the engine's tick): the minute keeps the largest. */
  sample(backlog: number, running: number): void {
    const i = this.slot();
    if (backlog > this.backlog[i]!) this.backlog[i] = backlog;
    if (running > this.running[i]!) this.running[i] = running;
  }

  /** The p-th percentile (0..1) of recent durations; null before any. */
  percentile(p: number): number | null {
    const n = Math.min(this.recentN, RECENT);
    if (n === 0) return null;
    const sorted = this.recent.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.floor(p * n))]!;
  }

  /** The last hour, oldest first, a point per minute (minutes with nothing are zeros). */
  series(nowMs: number): MinutePoint[] {
    const now = Math.floor(nowMs / 60_000);
    const out: MinutePoint[] = [];
    for (let m = now - MINUTES + 1; m <= now; m++) {
      const i = m % MINUTES;
      const has = this.slotMinute[i] === m;
      out.push({
        t: m * 60_000,
        calls: has ? this.calls[i]! : 0,
        failures: has ? this.failures[i]! : 0,
        coldStarts: has ? this.colds[i]! : 0,
        backlog: has ? this.backlog[i]! : 0,
        running: has ? this.running[i]! : 0,
      });
    }
    return out;
  }

  /** Inputs finished in the last 60 s: this minute, plus the part of the last one still inside. */
  perMinute(nowMs: number): number {
    const now = Math.floor(nowMs / 60_000);
    const frac = (nowMs % 60_000) / 60_000;
    const at = (m: number) => (this.slotMinute[m % MINUTES] === m ? this.calls[m % MINUTES]! : 0);
    return Math.round(at(now) + at(now - 1) * (1 - frac));
  }

  /** Failed share of the inputs finished in the last hour; null when none. */
  errorRate(nowMs: number): number | null {
    const now = Math.floor(nowMs / 60_000);
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < MINUTES; i++) {
      if (this.slotMinute[i]! > now - MINUTES) {
        calls += this.calls[i]!;
        failures += this.failures[i]!;
      }
    }
    return calls === 0 ? null : failures / calls;
  }
}
