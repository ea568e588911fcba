// Cold fan-out (issue 16 item 1): a burst of calls from zero containers starts several
// containers at once, and no more at once than the fleet's start slots.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, Function_ } from "skiff";
import { type ServerProcess, skiff, startServer } from "./helpers/cli.js";
import { containerPids } from "./helpers/procs.js";

interface Started {
  id: string;
  processStart: number;
  loadedAt: number;
}

/** The most intervals [processStart, loadedAt] that overlap at one moment. */
function maxOverlap(cts: Started[]): number {
  const edges = cts.flatMap((c) => [
    [c.processStart, 1],
    [c.loadedAt, -1],
  ]) as [number, number][];
  // At equal times an end comes before a start: touching is not overlapping.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) {
    now += d;
    most = Math.max(most, now);
  }
  return most;
}

type Burst = Function_<() => Promise<Started>>;

/** Runs `n` calls at once; the distinct containers that ran them. */
async function burst(fn: Burst, n: number): Promise<Started[]> {
  const out = await Promise.all(Array.from({ length: n }, () => fn.remote()));
  return [...new Map(out.map((r) => [r.id, r])).values()];
}

describe("cold fan-out", () => {
  const SLOTS = 2;
  let server: ServerProcess;
  let client: Client;

  before(async () => {
    // The bound under test, small enough to be exceeded by the burst below if it did not hold.
    process.env.SKIFF_START_CONCURRENCY = String(SLOTS);
    try {
      server = await startServer();
    } finally {
      delete process.env.SKIFF_START_CONCURRENCY;
    }
    const d = await skiff(["deploy", "test/fixtures/fanout-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    client = server.client();
  });
  after(() => server.stop());

  it("starts containers in parallel, at most the start slots at once", async () => {
    const slow = Function_.fromName<Function_<() => Promise<Started>>>("fanout-app", "slow", { client });
    const out = await Promise.all(Array.from({ length: 8 }, () => slow.remote()));
    const cts = [...new Map(out.map((r) => [r.id, r])).values()];
    assert.ok(cts.length >= 2, `the burst ran on ${cts.length} container(s)`);
    // Each process's start-to-loaded interval lies inside the fleet's "starting" window for it.
    const most = maxOverlap(cts);
    assert.ok(most >= 2, `containers started one after another (at most ${most} at once): ${JSON.stringify(cts)}`);
    assert.ok(most <= SLOTS, `${most} containers were starting at once, over the ${SLOTS} start slots`);
  });
});

describe("warm pool growing with demand", () => {
  let server: ServerProcess;
  let client: Client;

  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/fanout-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    client = server.client();
  });
  after(() => server.stop());

  it("the first container takes a runtime pooled before the server wrote its profile (the sandbox does not show it)", async () => {
    // The server wrote its profile (a path it hides from containers) once it listened, after
    // its warm pool had started: that file is outside what the sandbox shows, so the pool stays.
    const first = Function_.fromName<Function_<() => Promise<Started>>>("fanout-app", "first", { client });
    const t0 = Date.now();
    const r = await first.remote();
    assert.ok(
      r.processStart < t0,
      `the first container's process started ${Math.round(r.processStart - t0)} ms after the call: the warm pool was thrown away`,
    );
  });

  it("a burst beyond the warm pool grows it: more of the next burst's containers were started before it", async () => {
    const a = Function_.fromName<Burst>("fanout-app", "burstA", { client });
    const b = Function_.fromName<Burst>("fanout-app", "burstB", { client });
    const N = 5;
    const first = await burst(a, N);
    assert.equal(first.length, N, "one container per call (maxInputs 1)");
    // The pool (2, refilled as it is taken) grows to the burst's size (five, fewer where a loaded
    // machine spaced the starts out), started once the starts paused: the first burst's N
    // containers (idle now) and at least three pooled runtimes, one more than the pool's base.
    const deadline = Date.now() + 40_000; // before the grown pool goes back (60 s idle)
    while (containerPids(server.proc.pid!).length < N + 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 2000)); // the rest of the growth, if it is coming
    const t0 = Date.now();
    const second = await burst(b, N);
    assert.equal(second.length, N);
    const pre = second.filter((c) => c.processStart < t0).length;
    assert.ok(pre >= 3, `${pre} of ${N} containers were pre-started: no more than the pool's base (2)`);
  });
});
