/**
 * A function's typical run time, from the run times its containers report: what prefetch
 * (engine/prefetch.ts) and the autoscaler (engine/scale-need.ts) size from.
 *
 * A moving average let one sample move it far: on a busy host a container descheduled or
 * collecting garbage in the middle of a 10 µs input reports 10–150 ms for it (72 of 10 000
 * spawns of `square` here, loaded machine), and each such sample multiplied the estimate by up
 * to a thousand, so the autoscaler started containers for work that was not there (each ~100 ms
 * of CPU on the host that was already short of it, whose first inputs then ran slowly too). So
 * the estimate is the trimmed mean of the last WINDOW samples: the TRIM highest and lowest are
 * left out once the window is full. A function that really got slower moves it within a window
 * (it needs TRIM + 1 slow samples of WINDOW); an input stuck far longer than the estimate is
 * the autoscaler's overdue check's to see.
 */
export const WINDOW = 16;
const TRIM = 2;
/** Once the window is full, the estimate is recomputed every this many samples (a sort of 16). */
const EVERY = 8;

export class RunTimes {
  private readonly samples = new Float64Array(WINDOW);
  private readonly sorted = new Float64Array(WINDOW);
  private seen = 0;

  /** Adds a run time (ms, > 0); returns the estimate when it was recomputed, else undefined. */
  observe(ms: number): number | undefined {
    this.samples[this.seen % WINDOW] = ms;
    this.seen++;
    if (this.seen > WINDOW && this.seen % EVERY !== 0) return undefined;
    const n = Math.min(this.seen, WINDOW);
    const s = this.sorted.subarray(0, n);
    s.set(this.samples.subarray(0, n));
    s.sort();
    // Until the window is full, every sample counts (there is little to go on).
    const trim = n === WINDOW ? TRIM : 0;
    let sum = 0;
    for (let i = trim; i < n - trim; i++) sum += s[i]!;
    return sum / (n - 2 * trim);
  }
}
