// Host capacity (issue 15, item 4): the host runs at most --max-containers containers across all
// functions, warm-pool runtimes included; past it, inputs wait in the queue and none is lost.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import { type ServerProcess, scratchDir, skiff, startServer, writeApp } from "./helpers/cli.js";
import { containerPids } from "./helpers/procs.js";

const CAPACITY = 3;

/** Each process's age and the start of its command line, for a failure message. */
function describePids(pids: number[]): string {
  return pids
    .map((p) => {
      try {
        const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
        const stat = readFileSync(`/proc/${p}/stat`, "utf8");
        const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
        return `${p} (start ${start}) ${argv.slice(0, 3).join(" ")} … ${argv.filter((a) => a.includes("ct-")).join(" ")}`;
      } catch {
        return `${p} (gone)`;
      }
    })
    .join("; ");
}

describe("host capacity", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ args: ["--max-containers", String(CAPACITY)] });
    const file = writeApp(
      scratchDir("capacity"),
      "capacity-app.ts",
      `import { App } from "skiff";
export const app = new App("capacity-app");
export const slow = app.function({ maxContainers: 10, scaledownWindowMs: 600_000 }, async (i: number) => {
  await new Promise((r) => setTimeout(r, 1000));
  return i * 2;
});
export const quick = app.function(async (x: number) => x + 1);
`,
    );
    const r = await skiff(["deploy", file], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => server?.stop());

  it("10 concurrent slow calls of a function allowed 10 containers run in at most 3 at once, and all complete", async (t) => {
    assert.match(server.output(), /this host runs at most 3 containers and \d+ MiB of container memory at once/);
    const slow = Function_.fromName<Function_<(i: number) => Promise<number>>>("capacity-app", "slow", {
      client: server.client(),
    });
    let peak = 0;
    let atPeak = "";
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const pids = containerPids(server.proc.pid!);
        if (pids.length > peak) atPeak = describePids(pids);
        peak = Math.max(peak, pids.length);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => slow.remote(i)));
    const ms = Date.now() - t0;
    sampling = false;
    await sampler;
    assert.deepEqual(
      results,
      Array.from({ length: 10 }, (_, i) => i * 2),
    );
    // Runtime processes of this server, warm-pool ones included: never past the capacity…
    assert.ok(
      peak <= CAPACITY,
      `${peak} runtime processes alive at once with --max-containers ${CAPACITY}: ${atPeak}\nserver log:\n${server.output()}`,
    );
    // …and the capacity was used (the calls did run side by side, not one by one).
    assert.equal(peak, CAPACITY, `only ${peak} runtime processes at the peak`);
    t.diagnostic(`10 calls of 1 s in at most ${CAPACITY} containers: ${ms} ms, peak ${peak} runtime processes`);
    const stats = await slow.getCurrentStats();
    assert.equal(stats.backlog, 0);
    // Waiting for room is not a failure: nothing about it in the server's log as an error.
    assert.doesNotMatch(server.output(), /starting a container for capacity-app\.slow failed/);
  });

  it("a function with no container gets room on a host full of another function's idle ones", async () => {
    // slow's 3 containers are idle now, and would stay 10 minutes (scaledownWindowMs).
    const quick = Function_.fromName<Function_<(x: number) => Promise<number>>>("capacity-app", "quick", {
      client: server.client(),
    });
    const t0 = Date.now();
    assert.equal(await quick.remote(1), 2);
    const ms = Date.now() - t0;
    // Well before slow's 10-minute scale-down (a loaded machine's cold start can take seconds).
    assert.ok(ms < 20_000, `waited ${ms} ms for room`);
    assert.match(
      server.output(),
      /host full: stopping an idle container of capacity-app\.slow to make room for capacity-app\.quick/,
    );
    assert.ok(containerPids(server.proc.pid!).length <= CAPACITY);
  });
});
