// Host capacity (issue 15, item 4): the host runs at most --max-containers containers across all
// functions, warm-pool runtimes included; past it, inputs wait in the queue and none is lost.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import { type ServerProcess, scratchDir, skiff, startServer, writeApp } from "./helpers/cli.js";
import { containerPids } from "./helpers/procs.js";

const CAPACITY = 3;

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

  it("10 concurrent slow calls of a function allowed 10 containers run in at most 3 at once, and all complete", async () => {
    assert.match(server.output(), /this host runs at most 3 containers and \d+ MiB of container memory at once/);
    const slow = Function_.fromName<Function_<(i: number) => Promise<number>>>("capacity-app", "slow", {
      client: server.client(),
    });
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, containerPids(server.proc.pid!).length);
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
    assert.ok(peak <= CAPACITY, `${peak} runtime processes alive at once with --max-containers ${CAPACITY}`);
    // …and the capacity was used (the calls did run side by side, not one by one).
    assert.equal(peak, CAPACITY, `only ${peak} runtime processes at the peak`);
    assert.ok(ms < 10 * 1000, `10 calls of 1 s in 3 containers took ${ms} ms`);
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
    assert.ok(ms < 5000, `waited ${ms} ms for room`);
    assert.match(
      server.output(),
      /host full: stopping an idle container of capacity-app\.slow to make room for capacity-app\.quick/,
    );
    assert.ok(containerPids(server.proc.pid!).length <= CAPACITY);
  });
});
