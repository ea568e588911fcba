import assert from "node:assert/strict";
import { test } from "node:test";
import { FunctionStats } from "./function-stats.js";

test("function stats: percentiles, per-minute series, error rate and rings that stay bounded", () => {
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
  const clock = { minute: t0 / 60_000 };
  const s = new FunctionStats(clock);
  assert.equal(s.percentile(0.5), null);
  assert.equal(s.errorRate(t0), null);
  for (let i = 1; i <= 100; i++) s.finished(i % 10 !== 0, i);
  assert.equal(s.succeeded, 90);
  assert.equal(s.failed, 10);
  assert.equal(s.percentile(0.5), 51);
  assert.equal(s.percentile(0.99), 100);
  assert.equal(s.errorRate(t0 + 1000), 0.1);
  assert.equal(s.perMinute(t0 + 1000), 100);
  s.coldStart();
  s.sample(7, 3);
  s.sample(2, 1);
  let series = s.series(t0 + 1000);
  assert.equal(series.length, 60);
  assert.deepEqual(series.at(-1), { t: t0, calls: 100, failures: 10, coldStarts: 1, backlog: 7, running: 3 });
  // The next minute: the last minute counts in part, and the series moves on.
  clock.minute++;
  s.finished(true, 5);
  assert.equal(s.perMinute(t0 + 60_000 + 30_000), 1 + 50);
  series = s.series(t0 + 60_000);
  assert.equal(series.at(-1)!.calls, 1);
  assert.equal(series.at(-2)!.calls, 100);
  // An hour later the old minutes are gone; recording a million inputs keeps the same memory.
  clock.minute += 60;
  for (let i = 0; i < 1_000_000; i++) s.finished(true, 2);
  series = s.series(clock.minute * 60_000);
  assert.equal(
    series.reduce((n, p) => n + p.calls, 0),
    1_000_000,
  );
  assert.equal(s.percentile(0.99), 2);
  assert.equal(s.duration.count, 1_000_101);
});
