// Restarts of the control plane that callers should not notice (docs/reliability.md): maps
// resume across kill -9 and graceful restarts, generators run again or fail naming how far they
// got, waiting callers get their answers, web requests get 503 + Retry-After on a graceful stop,
// a second SIGTERM exits at once, and bad resumes fail clearly. Sizes: SKIFF_RESTART_MAP_N
// inputs (2 000 here; `npm run chaos` runs 100 000 with three restarts).
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Client, ConnectionError, Function_, FunctionCall, NotFoundError, SkiffError } from "skiff";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";
import { http } from "./helpers/http.js";
import { freePort } from "./helpers/procs.js";

const MAP_N = Number(process.env.SKIFF_RESTART_MAP_N ?? 2000);
/** Restarts during the big map, in order ("kill" is kill -9, "term" a graceful stop). */
const MAP_RESTARTS = (process.env.SKIFF_RESTART_MAP_PLAN ?? "kill,term").split(",") as ("kill" | "term")[];

type Steady = Function_<(x: number) => Promise<number>>;
type Sleeper = Function_<(ms: number) => Promise<number>>;
type Ticks = Function_<(n: number, firstMs: number, gapMs: number) => AsyncGenerator<number>>;

/** One server that the tests restart on the same port, data directory and token. */
class Restartable {
  server!: ServerProcess;
  private port = 0;
  constructor(private readonly args: string[] = []) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = await startServer({ args: ["--port", String(this.port), ...this.args] });
    const d = await skiff(["deploy", "test/fixtures/restart-app.ts"], { env: this.server.env });
    assert.equal(d.code, 0, d.stderr);
  }

  /** A new server process on the same port and data; resolves once it listens. */
  async again(): Promise<number> {
    const t0 = performance.now();
    const s = this.server;
    this.server = await startServer({
      args: ["--port", String(this.port), ...this.args],
      home: s.home,
      dataDir: s.dataDir,
      token: s,
    });
    return performance.now() - t0;
  }

  /** kill -9 and start again; the milliseconds the server was away. */
  async kill9(): Promise<number> {
    const t0 = performance.now();
    this.server.proc.kill("SIGKILL");
    await new Promise((r) => this.server.proc.once("exit", r));
    await this.again();
    return performance.now() - t0;
  }

  /** SIGTERM (graceful), wait for the exit, start again; the milliseconds it was away. */
  async term(): Promise<number> {
    const t0 = performance.now();
    const exited = new Promise((r) => this.server.proc.once("exit", r));
    this.server.proc.kill("SIGTERM");
    await exited;
    await this.again();
    return performance.now() - t0;
  }

  /** Graceful stop, and the home (data dir included) removed: a restarted server's stop keeps it. */
  async stop(): Promise<void> {
    await this.server.stop();
    rmSync(this.server.home, { recursive: true, force: true });
  }

  fn<F>(client: Client, name: string): Promise<F> {
    return Function_.lookup("restart-app", name, { client }) as Promise<F>;
  }
}

describe("control-plane restarts: maps", () => {
  const r = new Restartable(["--shutdown-grace-ms", "3000"]);
  before(() => r.start());
  after(() => r.stop());

  it(`a ${MAP_N}-input map finishes across ${MAP_RESTARTS.length} restarts (${MAP_RESTARTS.join(", ")}): every output once, in order`, async (t) => {
    const client = r.server.client();
    const resumes: number[] = [];
    client._mapResumed = (e) => resumes.push(e.resent);
    const steady = await r.fn<Steady>(client, "steady");
    let got = 0;
    let lastAt = performance.now();
    let worstGap = 0;
    // Per restart: from the server being back to the map's next output.
    let backAt: number | undefined;
    const resumedAfter: number[] = [];
    const mapped = (async () => {
      for await (const y of steady.map(Array.from({ length: MAP_N }, (_, i) => i))) {
        assert.equal(y, got * 2, `output ${got}`);
        got++;
        const now = performance.now();
        worstGap = Math.max(worstGap, now - lastAt);
        lastAt = now;
        if (backAt !== undefined) {
          resumedAfter.push(now - backAt);
          backAt = undefined;
        }
      }
    })();
    mapped.catch(() => {}); // observed below
    const away: number[] = [];
    for (const [i, how] of MAP_RESTARTS.entries()) {
      const at = Math.floor((MAP_N * (i + 1)) / (MAP_RESTARTS.length + 1));
      await waitFor(async () => got >= at, `the map to reach ${at} outputs`, 120_000);
      away.push(how === "kill" ? await r.kill9() : await r.term());
      backAt = performance.now();
    }
    await mapped;
    assert.equal(got, MAP_N);
    assert.equal(resumes.length, MAP_RESTARTS.length, `resumed ${resumes.length} times`);
    t.diagnostic(
      `${MAP_N} inputs; restarts ${MAP_RESTARTS.map((h, i) => `${h} (server away ${(away[i]! / 1000).toFixed(1)} s, next output ${((resumedAfter[i] ?? Number.NaN) / 1000).toFixed(1)} s after it was back, ${resumes[i]} inputs sent again: at most that many ran twice)`).join(", ")}; longest wait between two outputs ${(worstGap / 1000).toFixed(1)} s`,
    );
    client.close();
  });

  it("a map the server does not know on resume fails with an error naming the map", async () => {
    const client = r.server.client();
    const sleeper = await r.fn<Sleeper>(client, "sleeper");
    const iter = sleeper.map(Array.from({ length: 4 }, () => 60_000))[Symbol.asyncIterator]();
    const first = iter.next().catch((e: unknown) => e);
    await waitFor(async () => (await sleeper.getCurrentStats()).numActiveRunners > 0, "the map to run");
    // Forget the map as a server does once its resume window has passed, then restart.
    r.server.proc.kill("SIGKILL");
    await new Promise((res) => r.server.proc.once("exit", res));
    await forgetMaps(r.server.dataDir);
    await r.again();
    const err = await first;
    assert.ok(err instanceof NotFoundError, String(err));
    assert.match(err.message, /cannot resume the map.*map fc-\S+ is not known to this server/);
    client.close();
  });

  it("a map whose server does not come back within the reconnect window fails naming how long it waited", async () => {
    const port = await freePort();
    const lone = await startServer({ args: ["--port", String(port)] });
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/restart-app.ts"], { env: lone.env })).code, 0);
      const { Client } = await import("skiff");
      const client = new Client({
        serverUrl: lone.url,
        tokenId: lone.tokenId,
        tokenSecret: lone.tokenSecret,
        environment: "main",
        reconnectTimeoutMs: 3000,
      });
      const sleeper = await Function_.lookup<Sleeper>("restart-app", "sleeper", { client });
      const mapped = sleeper
        .map([200, 60_000])
        .toArray()
        .catch((e: unknown) => e);
      await waitFor(async () => (await sleeper.getCurrentStats()).numActiveRunners > 0, "the map to run");
      const t0 = performance.now();
      lone.proc.kill("SIGKILL");
      const err = await mapped;
      const secs = (performance.now() - t0) / 1000;
      assert.ok(err instanceof ConnectionError, String(err));
      assert.match(err.message, /lost during the map and did not come back/);
      assert.match(
        err.message,
        /gave up after trying to reconnect for \d+(\.\d)? s; the client's reconnectTimeoutMs is 3000/,
      );
      assert.ok(secs < 15, `failed after ${secs.toFixed(1)} s`);
      client.close();
    } finally {
      await lone.kill().catch(() => {});
      rmSync(lone.home, { recursive: true, force: true });
    }
  });
});

/** Drops every map row of a stopped server's store, as its resume window passing would. */
async function forgetMaps(dataDir: string): Promise<void> {
  const { openStore, FsBlobStore } = await import("@skiff/server");
  const { existsSync, readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const marker = join(dataDir, ".test-store-url");
  const url = existsSync(marker) ? readFileSync(marker, "utf8") : undefined;
  const store = await openStore(url, { dataDir, blobs: new FsBlobStore(join(dataDir, "blobs")), log: () => {} });
  store.orphanMapCalls(0);
  await store.flush();
  await store.expireMapCalls(Date.now());
  await store.flush();
  await store.close();
}

describe("control-plane restarts: streams and waiting callers", () => {
  const r = new Restartable(["--shutdown-grace-ms", "1000"]);
  before(() => r.start());
  after(() => r.stop());

  it("a generator that had yielded nothing runs again after a kill -9 and streams every item", async () => {
    const client = r.server.client();
    const ticks = await r.fn<Ticks>(client, "ticks");
    const items: number[] = [];
    const streamed = (async () => {
      for await (const x of ticks.remoteGen(3, 4000, 10)) items.push(x);
    })();
    await waitFor(async () => (await ticks.getCurrentStats()).numActiveRunners > 0, "the generator to run");
    await r.kill9();
    await streamed;
    assert.deepEqual(items, [0, 1, 2]);
    client.close();
  });

  it("a generator interrupted after it yielded fails saying after how many items", async () => {
    const client = r.server.client();
    const ticks = await r.fn<Ticks>(client, "ticks");
    const items: number[] = [];
    const streamed = (async () => {
      for await (const x of ticks.remoteGen(10, 0, 400)) items.push(x);
    })().catch((e: unknown) => e);
    await waitFor(async () => items.length >= 3, "three items");
    await r.term();
    const err = await streamed;
    assert.ok(err instanceof SkiffError, String(err));
    assert.match(err.message, new RegExp(`the stream was interrupted after ${items.length} items`));
    assert.ok(items.length >= 3 && items.length < 10, `${items.length} items`);
    client.close();
  });

  it("get(), gather() and remote() waiting across two graceful restarts in a row all answer", async () => {
    const client = r.server.client();
    const sleeper = await r.fn<Sleeper>(client, "sleeper");
    // Longer than the grace: they are running when each stop ends, and run again after it.
    const spawned = await Promise.all([2500, 2600].map((ms) => sleeper.spawn(ms)));
    const got = spawned.map((c) => FunctionCall.fromId<number>(c.objectId, { client }).get());
    const gathered = FunctionCall.gather(...spawned);
    const remote = sleeper.remote(2700);
    const quick = sleeper.remote(200); // finishes within the first stop's grace
    await waitFor(async () => (await sleeper.getCurrentStats()).numActiveRunners >= 4, "all four to run");
    await r.term();
    await r.term();
    assert.deepEqual(await Promise.all(got), [2500, 2600]);
    assert.deepEqual(await gathered, [2500, 2600]);
    assert.equal(await remote, 2700);
    assert.equal(await quick, 200);
    client.close();
  });
});

describe("control-plane restarts: result URLs", () => {
  it("a web call behind a result URL: answered after a graceful restart, and a clear 503 after a kill -9", async () => {
    const r = new Restartable(["--shutdown-grace-ms", "5000"]);
    await r.start();
    try {
      const post = async (ms: number) => {
        const res = await http(`${r.server.url}/web/restart-app/later`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ms }),
        });
        assert.equal(res.status, 202, res.body);
        return (res.json() as { result_url: string }).result_url;
      };
      // Finishes within the grace of a graceful stop: its result is there after the restart.
      const graceful = await post(2500);
      await new Promise((res) => setTimeout(res, 1500)); // running by then (its container started)
      await r.term();
      const a = await http(graceful);
      assert.equal(a.status, 200, a.body);
      assert.deepEqual(a.json(), { slept: 2500 });
      // Still running at a kill -9: its URL says so (503 + Retry-After), not "unknown".
      const killed = await post(20_000);
      await new Promise((res) => setTimeout(res, 1000));
      await r.kill9();
      const b = await http(killed);
      assert.equal(b.status, 503, b.body);
      assert.equal(b.headers["retry-after"], "5");
      assert.match(b.body, /the server restarted before this request's response was complete/);
    } finally {
      await r.stop();
    }
  });
});

describe("control-plane restarts: graceful stop", () => {
  it("SIGTERM lets a running input finish, answers a waiting web request 503 + Retry-After, and a second SIGTERM exits at once", async () => {
    const r = new Restartable(["--shutdown-grace-ms", "4000"]);
    await r.start();
    try {
      const client = r.server.client();
      const sleeper = await r.fn<Sleeper>(client, "sleeper");
      // 1. A running spawn shorter than the grace finishes before the server exits.
      const short = await sleeper.spawn(1500);
      await waitFor(async () => (await sleeper.getCurrentStats()).numActiveRunners > 0, "the spawn to run");
      // A web request that will not have its response when the grace ends.
      const url = `${r.server.url}/web/restart-app/slow?ms=20000`;
      const web = http(url);
      await waitFor(async () => (await sleeper.getCurrentStats()).numActiveRunners > 0, "the web call to run");
      await new Promise((res) => setTimeout(res, 300));
      const t0 = performance.now();
      const exited = new Promise((res) => r.server.proc.once("exit", res));
      r.server.proc.kill("SIGTERM");
      // New requests are refused at once while it drains.
      await waitFor(async () => /stopping: running inputs may finish/.test(r.server.output()), "the drain to start");
      const refused = await http(`${r.server.url}/web/restart-app/slow?ms=1`);
      assert.equal(refused.status, 503, refused.body);
      assert.equal(refused.headers["retry-after"], "5");
      const w = await web;
      assert.equal(w.status, 503, w.body);
      assert.equal(w.headers["retry-after"], "5");
      assert.match(w.body, /the server is restarting/);
      await exited;
      const took = performance.now() - t0;
      assert.ok(took >= 1000 && took < 10_000, `exited after ${took.toFixed(0)} ms`);
      assert.match(r.server.output(), /drained in \d+ ms/);
      await r.again();
      // Its result was committed before the exit: the restarted server has it, not re-run.
      assert.doesNotMatch(r.server.output(), /recovered \d+ pending/);
      assert.equal(await FunctionCall.fromId<number>(short.objectId, { client }).get(), 1500);

      // 2. A second SIGTERM exits at once; the running spawn runs again after the next start.
      const long = await sleeper.spawn(30_000);
      await waitFor(async () => (await sleeper.getCurrentStats()).numActiveRunners > 0, "the long spawn to run");
      const t1 = performance.now();
      const exited2 = new Promise((res) => r.server.proc.once("exit", res));
      r.server.proc.kill("SIGTERM");
      await waitFor(async () => /stopping: running inputs may finish/.test(r.server.output()), "the drain to start");
      r.server.proc.kill("SIGTERM");
      await exited2;
      assert.ok(performance.now() - t1 < 3000, `exited after ${(performance.now() - t1).toFixed(0)} ms`);
      assert.match(r.server.output(), /SIGTERM again: exiting now/);
      await r.again();
      assert.match(r.server.output(), /recovered 1 pending call/);
      assert.equal(await long.get({ timeoutMs: 0 }).catch((e: Error) => e.name), "TimeoutError");
      client.close();
    } finally {
      await r.stop();
    }
  });
});

describe("control-plane restarts: a second server on the same data", () => {
  it("is refused while the first runs, naming the data directory, and the first keeps its containers' socket", async () => {
    const first = await startServer();
    try {
      const second = await skiff(["server", "--port", "0", "--data-dir", first.dataDir], {
        env: first.env,
        timeoutMs: 15_000,
      });
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, /another Skiff server is running on the data directory .*stop it first/);
      // The first server's containers still reach it: a call runs in a new container.
      const r = await skiff(["run", "examples/quickstart.ts"], { env: first.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /square\(42\) = 1764/);
    } finally {
      await first.stop();
    }
  });
});
