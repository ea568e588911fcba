// Faults: containers killed mid-input, the server killed with work pending, autoscaling,
// result retention.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Function_, FunctionCall, FunctionTimeoutError, InitError, OutputExpiredError } from "skiff";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";
import { containerPids, freePort, killPids } from "./helpers/procs.js";

type Sleeper = Function_<(ms: number) => Promise<number>>;

const fn = (server: ServerProcess, name: string) =>
  Function_.fromName<Function_<(x: number) => Promise<number>>>("core-app", name, { client: server.client() });

describe("faults and scaling", () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
  });
  after(() => server.stop());

  it("re-runs an input whose container was killed, without using up retries (retries: 0)", async () => {
    const sleeper = await Function_.lookup<Sleeper>("core-app", "sleeper", { client: server.client() });
    const pending = sleeper.remote(1500);
    // Once the input runs, kill every container process of this server.
    await waitFor(async () => (await sleeper.getCurrentStats()).numActiveRunners === 1, "the input to start");
    killPids(containerPids(server.proc.pid!));
    const tag = await pending;
    assert.equal(typeof tag, "number");
    assert.match(server.output(), /is gone \(killed by SIGKILL.*re-queueing 1 input/);
  });

  it("stops a busy loop and a promise that never settles at timeoutMs, replacing the container; later inputs complete", async () => {
    type Out = { x: number; tag: number };
    const runaway = await Function_.lookup<Function_<(x: number) => Promise<Out>>>("core-app", "runaway", {
      client: server.client(),
    });
    const first = (await runaway.remote(9)).tag; // the container the map will start on
    const out = await runaway.map([0, 1, 2, 3, 4, 5], { returnExceptions: true }).toArray();
    // 0 and 1 run away. 2 and 3 shared the event loop that 0 froze for their whole timeoutMs: they
    // time out with it (documented). 4 and 5 waited in the queue and run on a new container.
    for (const i of [0, 1, 2, 3]) assert.ok(out[i] instanceof FunctionTimeoutError, `input ${i}: ${String(out[i])}`);
    const later = out.slice(4) as Out[];
    assert.deepEqual(
      later.map((r) => r.x),
      [4, 5],
    );
    for (const r of later) assert.notEqual(r.tag, first, "the frozen container was replaced");
    assert.equal(await fn(server, "square").remote(6), 36, "other functions were unaffected");
  });

  it("on worker threads, a sync infinite loop times out alone: the input beside it completes", async () => {
    type Out = { x: number; tag: number };
    const runaway = await Function_.lookup<Function_<(x: number) => Promise<Out>>>("core-app", "runawaySync", {
      client: server.client(),
    });
    const out = await runaway.map([0, 1, 2, 3], { returnExceptions: true }).toArray();
    assert.ok(out[0] instanceof FunctionTimeoutError, String(out[0]));
    assert.deepEqual(
      out.slice(1).map((r) => (r as Out).x),
      [1, 2, 3],
    );
  });

  it("scales from zero up to maxContainers on backlog, then back down when idle", async () => {
    const sleeper = await Function_.lookup<Sleeper>("core-app", "sleeper", { client: server.client() });
    await waitFor(async () => (await sleeper.getCurrentStats()).numTotalRunners === 0, "idle containers to stop");
    const running = Promise.all(Array.from({ length: 9 }, () => sleeper.remote(600)));
    const busy = await waitFor(async () => {
      const s = await sleeper.getCurrentStats();
      return s.numActiveRunners === 3 ? s : undefined;
    }, "three busy containers");
    assert.equal(busy.numTotalRunners, 3);
    assert.ok(busy.backlog >= 3 && busy.backlog <= 6, `backlog ${busy.backlog}`);
    const tags = await running;
    assert.equal(new Set(tags).size, 3, `9 inputs at maxContainers 3 ran on ${new Set(tags).size} containers`);
    // scaledownWindowMs is 1000: all containers go once idle.
    await waitFor(async () => (await sleeper.getCurrentStats()).numTotalRunners === 0, "scale-down to zero", 10_000);
  });
});

// SKIFF_KILL_MAP_N and SKIFF_RESTART_SPAWNS make these longer (npm run chaos). The spawns run
// at most 800/s (backlogged: one container, 8 at a time, 10 ms each), so every thousand adds
// more than a second to the wait after the restart; how many are still pending at the kill
// depends on how fast spawns arrive against that rate, not on how many there are.
const KILL_MAP_N = Number(process.env.SKIFF_KILL_MAP_N) || 10_000;
const RESTART_SPAWNS = Number(process.env.SKIFF_RESTART_SPAWNS) || 3000;

describe("container faults during a map", () => {
  it(`completes a ${KILL_MAP_N}-input map with a container killed every 250 ms, each output exactly once`, async (t) => {
    const server = await startServer();
    // Cleared in `finally` too: a failed map must not leave the killer's timer running, which
    // kept the test process alive (the file never ended) after a failure.
    let running = true;
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      const steady = await Function_.lookup<Function_<(x: number) => Promise<number>>>("core-app", "steady", {
        client: server.client(),
      });
      const N = KILL_MAP_N;
      const started = performance.now();
      let kills = 0;
      const killer = (async () => {
        while (running) {
          await new Promise((r) => setTimeout(r, 250));
          const pids = containerPids(server.proc.pid!);
          if (!running || pids.length === 0) continue;
          killPids([pids[Math.floor(Math.random() * pids.length)]!]);
          kills++;
        }
      })();
      const seen = new Uint8Array(N);
      let n = 0;
      // Inputs are released in 25 parts, each after one more kill: however fast this machine
      // runs the map, at least 24 kills land while inputs are in flight.
      const parts = 25;
      async function* inputs() {
        for (let i = 0; i < N; i++) {
          const part = Math.floor((i * parts) / N);
          while (kills < part) await new Promise((r) => setTimeout(r, 20));
          yield i;
        }
      }
      for await (const y of steady.map(inputs(), { orderOutputs: false })) {
        const x = y / 2;
        assert.equal(seen[x], 0, `input ${x} came back twice`);
        seen[x] = 1;
        n++;
      }
      running = false;
      await killer;
      const secs = (performance.now() - started) / 1000;
      const requeued = [...server.output().matchAll(/re-queueing (\d+) input/g)].reduce((a, m) => a + Number(m[1]), 0);
      t.diagnostic(
        `${N} inputs in ${secs.toFixed(1)} s with ${kills} container kills; ${requeued} inputs re-run after a kill; each output seen once`,
      );
      assert.equal(n, N);
      assert.ok(
        seen.every((v) => v === 1),
        "every input came back",
      );
      assert.ok(kills >= 20, `only ${kills} kills happened`);
    } finally {
      running = false;
      await server.stop();
    }
  });
});

describe("containers that never start", () => {
  it("fails the waiting call with an InitError after a few tries, instead of waiting forever", async () => {
    const server = await startServer();
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/crash-app.ts"], { env: server.env })).code, 0);
      const f = await Function_.lookup<Function_<() => Promise<string>>>("crash-app", "never", {
        client: server.client(),
      });
      await assert.rejects(
        f.remote(),
        (e: Error) =>
          e instanceof InitError &&
          /keep exiting before they start \(last: (killed by SIGKILL|exited with code 137)/.test(e.message),
      );
    } finally {
      await server.stop();
    }
  });
});

describe("warm containers", () => {
  it("keeps minContainers running with no calls at all", async () => {
    const server = await startServer();
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      const warm = await Function_.lookup<Function_<() => Promise<number>>>("core-app", "warm", {
        client: server.client(),
      });
      await waitFor(async () => (await warm.getCurrentStats()).numTotalRunners === 1, "the warm container");
      const tag = await warm.remote();
      await new Promise((r) => setTimeout(r, 600)); // scaledownWindowMs is 0: only minContainers keeps it
      assert.equal((await warm.getCurrentStats()).numTotalRunners, 1);
      assert.equal(await warm.remote(), tag, "the same container served both calls");
    } finally {
      await server.stop();
    }
  });
});

describe("start failures", () => {
  it("backs off when containers keep dying before they start", async () => {
    const server = await startServer({ args: ["--warm-pool", "0"] });
    try {
      // An app whose only containers are the sleeper's: core-app's `warm` (minContainers: 1)
      // would be killed and restarted too, with a backoff of its own, and counted here.
      assert.equal((await skiff(["deploy", "test/fixtures/restart-app.ts"], { env: server.env })).code, 0);
      const sleeper = await Function_.lookup<Sleeper>("restart-app", "sleeper", { client: server.client() });
      // Kill every container of this server as it appears, for 2 s; the call still completes after.
      const t0 = Date.now();
      const seen = new Set<number>();
      let inTwoSeconds = 0;
      const pending = sleeper.remote(10);
      // 2 s, or on a loaded machine (a start can take over a second there) until a restart was seen.
      while (Date.now() < t0 + 2000 || (seen.size < 2 && Date.now() < t0 + 10_000)) {
        const p = containerPids(server.proc.pid!);
        for (const x of p) seen.add(x);
        if (Date.now() < t0 + 2000) inTwoSeconds = seen.size;
        killPids(p);
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(typeof (await pending), "number");
      // Backoff 0.5 s, 1 s, 2 s…: restarted, and a handful of starts in 2 s, not dozens.
      assert.ok(seen.size >= 2, `a killed container was not started again (${seen.size} in 10 s)`);
      assert.ok(inTwoSeconds <= 6, `containers started ${inTwoSeconds} times in 2 s`);
    } finally {
      await server.stop();
    }
  });
});

describe("control-plane restart", () => {
  it(`completes ${RESTART_SPAWNS} spawned calls (some running) after kill -9 and restart on the same data dir`, async (t) => {
    const port = await freePort();
    let server = await startServer({ args: ["--port", String(port)] });
    const home = server.home;
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      // Slower than spawns arrive, on either store: calls are still pending at the kill.
      const steady = await Function_.lookup<Function_<(x: number) => Promise<number>>>("core-app", "backlogged", {
        client: server.client(),
      });
      const N = RESTART_SPAWNS;
      const ids: string[] = [];
      for (let i = 0; i < N; i += 1000) {
        const chunk = await Promise.all(Array.from({ length: Math.min(1000, N - i) }, (_, j) => steady.spawn(i + j)));
        ids.push(...chunk.map((c) => c.objectId));
      }
      // Some are running now, most are still queued.
      await waitFor(async () => (await steady.getCurrentStats()).numActiveRunners > 0, "some calls to run");
      await server.kill();
      server = await startServer({ args: ["--port", String(port)], home, dataDir: server.dataDir, token: server });
      const recovered = Number(/recovered (\d+) pending call\(s\)/.exec(server.output())?.[1]);
      t.diagnostic(`${recovered} of ${N} calls were still pending at the kill`);
      assert.ok(recovered > 0 && recovered <= N, `recovered ${recovered}`);
      const client = server.client();
      const t0 = performance.now();
      const results = await Promise.all(ids.map((id) => FunctionCall.fromId<number>(id, { client }).get()));
      for (let i = 0; i < N; i++) assert.equal(results[i], i * 2, `call ${i} (${ids[i]})`);
      t.diagnostic(`all ${N} answered ${((performance.now() - t0) / 1000).toFixed(1)} s after the restart`);
    } finally {
      await server.stop();
    }
  });

  it("a caller blocked in remote() gets its result, and a map being iterated finishes, across a restart", async (t) => {
    const port = await freePort();
    let server = await startServer({ args: ["--port", String(port)] });
    const home = server.home;
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      const client = server.client();
      const sleeper = await Function_.lookup<Sleeper>("core-app", "sleeper", { client });
      const steady = await Function_.lookup<Function_<(x: number) => Promise<number>>>("core-app", "steady", {
        client,
      });
      const pending = sleeper.remote(800);
      // A map whose caller keeps iterating across the restart.
      let got = 0;
      const mapped = (async () => {
        for await (const y of steady.map(Array.from({ length: 5000 }, (_, i) => i))) {
          assert.equal(y, got * 2);
          got++;
        }
        return "completed";
      })().catch((e: unknown) => e);
      await waitFor(async () => got > 50, "the map to yield");
      await server.proc.kill("SIGKILL");
      await new Promise((r) => server.proc.once("exit", r));
      server = await startServer({
        args: ["--port", String(port)],
        home,
        dataDir: server.dataDir,
        token: server,
      });
      assert.equal(typeof (await pending), "number");
      // The map is taken back on the restarted server and finishes (test/restarts.test.ts has more).
      const end = await Promise.race([mapped, new Promise((r) => setTimeout(() => r("hung"), 30_000))]);
      assert.equal(end, "completed", `the map did not finish within 30 s of the restart: ${String(end)}`);
      assert.equal(got, 5000);
      t.diagnostic("the map completed across the restart");
      client.close();
    } finally {
      await server.stop();
    }
  });
});

describe("result retention", () => {
  it("answers OutputExpiredError for a spawned result past retention", async () => {
    const server = await startServer({ args: ["--result-retention-ms", "1000"] });
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      const client = server.client();
      const square = await Function_.lookup<Function_<(x: number) => Promise<number>>>("core-app", "square", {
        client,
      });
      const call = await square.spawn(5);
      assert.equal(await call.get(), 25);
      await new Promise((r) => setTimeout(r, 1300));
      await assert.rejects(call.get(), OutputExpiredError);
    } finally {
      await server.stop();
    }
  });
});
