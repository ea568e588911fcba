// Generators: items stream as they are yielded, with backpressure end to end.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, Function_, InvalidError, UserCodeError } from "skiff";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";

describe("remoteGen", () => {
  let server: ServerProcess;
  let client: Client;
  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    client = server.client();
  });
  after(() => server.stop());

  it("streams every item in order", async () => {
    const count = Function_.fromName<Function_<(n: number) => AsyncGenerator<number>>>("core-app", "count", { client });
    const got: number[] = [];
    for await (const i of count.remoteGen(5000)) got.push(i);
    assert.equal(got.length, 5000);
    assert.ok(got.every((v, i) => v === i));
  });

  it("delivers the items yielded before an error, then the error", async () => {
    const f = Function_.fromName<Function_<() => AsyncGenerator<string>>>("core-app", "failsMidStream", { client });
    const got: string[] = [];
    const err = await (async () => {
      for await (const x of f.remoteGen()) got.push(x);
    })().catch((e: Error) => e);
    assert.deepEqual(got, ["a", "b"]);
    assert.ok(err instanceof Error);
    assert.equal(err.name, "SyntaxError");
    assert.equal(err.message, "broke after two");
  });

  it("slows the generator down to a slow consumer (a bounded window in flight)", async () => {
    const f = Function_.fromName<Function_<(n: number) => AsyncGenerator<{ i: number; t: number }>>>(
      "core-app",
      "stamped",
      { client },
    );
    const it = f.remoteGen(5000)[Symbol.asyncIterator]();
    await it.next(); // item 0
    await new Promise((r) => setTimeout(r, 700));
    const resumed = Date.now();
    let last: { i: number; t: number } | undefined;
    for (let i = 1; i <= 3000; i++) last = (await it.next()).value;
    await it.return?.(undefined);
    assert.equal(last?.i, 3000);
    // Item 3000 lies past two windows of 1024: it can only have been produced after we resumed.
    assert.ok(last!.t >= resumed - 20, `item 3000 produced ${resumed - last!.t} ms before the consumer resumed`);
  });

  it("does not count time paused by a slow consumer toward timeoutMs", async () => {
    const f = Function_.fromName<Function_<(n: number) => AsyncGenerator<number>>>("core-app", "quickGen", { client });
    const it = f.remoteGen(3000)[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 1800)); // timeoutMs is 1000: the generator waits for us meanwhile
    let n = 1;
    while (!(await it.next()).done) n++;
    assert.equal(n, 3000);
  });

  it("cancels the generator when the consumer stops early", async () => {
    const count = Function_.fromName<Function_<(n: number) => AsyncGenerator<number>>>("core-app", "count", { client });
    for await (const i of count.remoteGen(10_000_000)) if (i === 10) break;
    await waitFor(async () => (await count.getCurrentStats()).numActiveRunners === 0, "the generator to stop");
  });

  it("follows documented rules: remoteGen on a plain function, remote on a generator, map of a generator", async () => {
    const square = Function_.fromName<Function_<(x: number) => Promise<number>>>("core-app", "square", { client });
    await assert.rejects(
      (async () => {
        for await (const _ of (square as unknown as Function_<(x: number) => AsyncGenerator<number>>).remoteGen(2)) {
        }
      })(),
      (e: Error) => e instanceof InvalidError && /square is not a generator function: call remote\(\)/.test(e.message),
    );
    const count = Function_.fromName<Function_<(n: number) => AsyncGenerator<number>>>("core-app", "count", { client });
    await assert.rejects(count.remote(3), /count is a generator function: call remoteGen\(\)/);
    // Mapping a generator function is a flat map, in input order.
    assert.deepEqual(await count.map([2, 3, 0, 1]).toArray(), [0, 1, 0, 1, 2, 0]);
    const unordered = await count.map([3, 2], { orderOutputs: false }).toArray();
    assert.deepEqual([...unordered].sort(), [0, 0, 1, 1, 2]);
    const f = Function_.fromName<Function_<() => AsyncGenerator<string>>>("core-app", "failsMidStream", { client });
    const withErrors = await f.map([[], []] as never, { returnExceptions: true }).toArray();
    assert.equal(withErrors.length, 6);
    assert.deepEqual(
      withErrors.filter((x) => typeof x === "string"),
      ["a", "b", "a", "b"],
    );
    assert.ok(withErrors[2] instanceof UserCodeError && withErrors[5] instanceof UserCodeError);
  });
});

describe("examples/async.ts (the seed's async patterns)", () => {
  it("runs every pattern end to end", async () => {
    const server = await startServer();
    try {
      const r = await skiff(["run", "examples/async.ts"], { env: server.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /sum of 100 squares: 328350/);
      assert.match(r.stdout, /mapped: 1 4 9 16/);
      assert.match(r.stdout, /countdown: 5 4 3 2 1/);
      assert.match(r.stdout, /sumOfSquares\(10\): 385/);
      assert.match(r.stdout, /settled: fulfilled rejected/);
      assert.match(r.stdout, /checkAll: \{"ok":16,"failed":4\}/);
    } finally {
      await server.stop();
    }
  });
});
