// Bounded server memory. Pending .spawn calls beyond a function's resident limit wait in the
// store and are paged in oldest first: none is lost, each can be awaited or cancelled while
// parked, and they survive a restart. A connection with too many requests pending is read
// more slowly instead of being held in memory.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ContainerTerminatedError, Function_, FunctionCall, FunctionCancelledError } from "skiff";
import type * as Core from "./fixtures/core-app.js";
import { type ServerProcess, skiff, startServer } from "./helpers/cli.js";
import { freePort } from "./helpers/procs.js";

const RESIDENT = 20;

describe("spawned calls past the resident limit (parked in the store)", () => {
  let server: ServerProcess;
  let port: number;

  before(async () => {
    port = await freePort();
    server = await startServer({ args: ["--port", String(port), "--max-resident-spawns", String(RESIDENT)] });
    assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
  });
  after(() => server.stop());

  it("runs every one of 400 spawns past a resident limit of 20, and each answers get() while parked", async () => {
    const client = server.client();
    const square = await Function_.lookup<typeof Core.square>("core-app", "square", { client });
    const calls = [];
    for (let i = 0; i < 400; i++) calls.push(await square.spawn(i));
    const stats = await square.getCurrentStats();
    assert.ok(stats.backlog <= 400, `backlog ${stats.backlog}`);
    // Awaited while most are still parked: the waiter follows the call into memory.
    const results = await Promise.all(calls.map((c) => c.get()));
    assert.deepEqual(
      results,
      calls.map((_, i) => i * i),
    );
  });

  it("a parked call can be cancelled before it runs", async () => {
    const client = server.client();
    const sleeper = await Function_.lookup<typeof Core.sleeper>("core-app", "sleeper", { client });
    const calls = [];
    for (let i = 0; i < RESIDENT + 10; i++) calls.push(await sleeper.spawn(300));
    const last = calls[calls.length - 1]!;
    const waiting = assert.rejects(last.get(), FunctionCancelledError);
    await last.cancel();
    await waiting;
    await assert.rejects(FunctionCall.fromId(last.objectId, { client }).get(), FunctionCancelledError);
    const done = await Promise.all(calls.slice(0, -1).map((c) => c.get()));
    assert.equal(done.length, RESIDENT + 9);
  });

  it("parked and resident calls all complete after kill -9 and a restart", async () => {
    const client = server.client();
    const sleeper = await Function_.lookup<typeof Core.sleeper>("core-app", "sleeper", { client });
    // Spawned all at once (one group commit) and killed at once: spawned one by one on a busy
    // machine, the containers finished too many before the kill for the count below to mean much.
    const calls = await Promise.all(Array.from({ length: 3 * RESIDENT }, () => sleeper.spawn(300)));
    const ids = calls.map((c) => c.objectId);
    await server.kill();
    server = await startServer({
      args: ["--port", String(port), "--max-resident-spawns", String(RESIDENT)],
      home: server.home,
      dataDir: server.dataDir,
      token: server,
    });
    // Most were still pending (some waiting in the store) when the server died.
    const recovered = Number(/recovered (\d+) pending call/.exec(server.output())?.[1] ?? 0);
    assert.ok(recovered > 2 * RESIDENT, `recovered ${recovered}`);
    const c2 = server.client();
    const results = await Promise.all(ids.map((id) => FunctionCall.fromId<number>(id, { client: c2 }).get()));
    assert.equal(results.length, 3 * RESIDENT);
    for (const r of results) assert.equal(typeof r, "number");
  });

  it("stopping the app ends its parked calls at once: get() fails saying the app was stopped", async () => {
    const client = server.client();
    const sleeper = await Function_.lookup<typeof Core.sleeper>("core-app", "sleeper", { client });
    const calls = await Promise.all(Array.from({ length: RESIDENT + 20 }, () => sleeper.spawn(60_000)));
    const parked = calls.at(-1)!;
    const waiting = assert.rejects(parked.get(), (err: Error) => {
      assert.ok(err instanceof ContainerTerminatedError, String(err));
      assert.match(err.message, /core-app\.sleeper: its app was stopped/);
      return true;
    });
    const stop = await skiff(["app", "stop", "core-app"], { env: server.env });
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    const t = Date.now();
    // A waiter on a parked call is answered, not left until a restart.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      waiting,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("get() of a parked call still waits 15 s after the stop")), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.ok(Date.now() - t < 10_000, `answered after ${Date.now() - t} ms`);
    // Read back from the store, every one (resident or parked) has ended so.
    const ended = await Promise.allSettled(calls.map((c) => FunctionCall.fromId(c.objectId, { client }).get()));
    for (const r of ended) {
      assert.equal(r.status, "rejected");
      assert.match((r as PromiseRejectedResult).reason.message, /its app was stopped/);
    }
  });
});

describe("a client firing far more calls than the server holds at once", () => {
  it("60 000 concurrent .remote() calls on one connection all answer (reading pauses at 50 000 pending)", async () => {
    const server = await startServer();
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      const wide = await Function_.lookup<typeof Core.wide>("core-app", "wide", { client: server.client() });
      const n = 60_000;
      const results = await Promise.all(Array.from({ length: n }, (_, i) => wide.remote(i)));
      for (let i = 0; i < n; i++) assert.equal(results[i], i * 3);
    } finally {
      await server.stop();
    }
  });
});
