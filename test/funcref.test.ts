// The rest of Modal's Function reference (api.md §2's end, issue 20): handles (objectId,
// fromId, getRawF), variants (withOptions / withConcurrency / withBatching), updateAutoscaler
// and dynamic batching, through the real CLI, server and containers.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, Cls, Dict, Function_, FunctionCall, FunctionTimeoutError, InvalidError, NotFoundError } from "skiff";
import * as Fixture from "./fixtures/funcref-app.js";
import { runProcess, type ServerProcess, scratchDir, skiff, startServer, waitFor, writeApp } from "./helpers/cli.js";

const APP = "funcref-app";

describe("function reference: handles, variants, autoscaler, batching", () => {
  let server: ServerProcess;
  const lookup = <T extends Function_>(name: string) => Function_.lookup<T>(APP, name, { client: server.client() });

  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/funcref-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
  });
  after(() => server.stop());

  describe("handles", () => {
    it("objectId is stable across redeploys; fromId works from another process, typed and lazy", async () => {
      const sq = await lookup<typeof Fixture.square>("square");
      const id = sq.objectId;
      assert.match(id, /^fu-/);
      const d = await skiff(["deploy", "test/fixtures/funcref-app.ts"], { env: server.env });
      assert.equal(d.code, 0, d.stderr);
      assert.equal((await lookup<typeof Fixture.square>("square")).objectId, id, "a redeploy kept the id");
      // Lazy: metadata before first use throws, as for fromName.
      const lazy = Function_.fromId<typeof Fixture.square>(id, { client: server.client() });
      assert.throws(() => lazy.objectId, InvalidError);
      const n: number = await lazy.remote(9);
      assert.equal(n, 81);
      assert.equal(lazy.name, "square");
      // Another process, plain Node, with only the stored id.
      const script = `import { Function_ } from "skiff"; const f = Function_.fromId(${JSON.stringify(id)}); console.log("r=" + (await f.remote(5))); process.exit(0);`;
      const r = await runProcess(process.execPath, ["--input-type=module", "-e", script], { env: server.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /r=25/);
    });

    it("takes Client.fromEnv(env)'s promise as a handle's client, unawaited, as a Worker writes it (api.md §8)", async () => {
      const env = {
        SKIFF_SERVER_URL: server.url,
        SKIFF_TOKEN_ID: server.tokenId,
        SKIFF_TOKEN_SECRET: server.tokenSecret,
      };
      const client = Client.fromEnv(env);
      const sq = Function_.fromName<typeof Fixture.square>(APP, "square", { client });
      assert.equal(await sq.remote(4), 16);
      const call = await sq.spawn(5);
      assert.equal(await FunctionCall.fromId<number>(call.objectId, { client }).get(), 25);
      const d = Dict.fromName<string, number>("funcref-env-client", { createIfMissing: true, client });
      await d.put("k", 1);
      assert.equal(await d.get("k"), 1);
      (await client).close();
    });

    it("fromId of an unknown id or a dropped function rejects at first use with NotFoundError", async () => {
      const unknown = Function_.fromId("fu-doesnotexist0000", { client: server.client() });
      await assert.rejects(unknown.remote(), NotFoundError);
      assert.throws(() => Function_.fromId("square"), InvalidError, "a name is not an id");
      // A function a redeploy drops: its stored id no longer resolves.
      const dir = scratchDir("funcref-drop");
      const v1 = writeApp(
        dir,
        "drop-app.ts",
        `import { App } from "skiff";\nexport const app = new App("funcref-drop");\nexport const keep = app.function(async () => 1);\nexport const gone = app.function(async () => 2);\n`,
      );
      assert.equal((await skiff(["deploy", v1], { env: server.env })).code, 0);
      const gone = await Function_.lookup("funcref-drop", "gone", { client: server.client() });
      const goneId = gone.objectId;
      assert.equal(await Function_.fromId(goneId, { client: server.client() }).remote(), 2);
      writeApp(
        dir,
        "drop-app.ts",
        `import { App } from "skiff";\nexport const app = new App("funcref-drop");\nexport const keep = app.function(async () => 1);\n`,
      );
      const d2 = await skiff(["deploy", v1], { env: server.env });
      assert.equal(d2.code, 0, d2.stderr);
      await assert.rejects(Function_.fromId(goneId, { client: server.client() }).hydrate(), (err: Error) => {
        assert.ok(err instanceof NotFoundError, `${err.name}: ${err.message}`);
        assert.match(err.message, /no running function .*dropped/);
        return true;
      });
    });

    it("getRawF returns the defining module's function; a looked-up handle refuses clearly", async () => {
      assert.equal(await Fixture.square.getRawF()(7), 49);
      const raw = Fixture.embed.getRawF();
      assert.deepEqual(
        (await raw(["ab"])).map((r) => r.len),
        [2],
        "a batched function's raw form takes arrays",
      );
      const sq = await lookup<typeof Fixture.square>("square");
      assert.throws(() => sq.getRawF(), /handle to a deployed function: getRawF\(\) needs its definition/);
    });
  });

  describe("variants", () => {
    it("withOptions runs in a pool of its own; equal variants share one; looked-up handles", async () => {
      const who = await lookup<typeof Fixture.whoami>("whoami");
      const base = await who.remote(0);
      assert.equal(base.flavour, "base");
      const a = await who.withOptions({ env: { FLAVOUR: "a" } }).remote(0);
      const a2 = await Function_.fromName<typeof Fixture.whoami>(APP, "whoami", { client: server.client() })
        .withOptions({ env: { FLAVOUR: "a" } })
        .remote(0);
      assert.equal(a.flavour, "a");
      assert.notEqual(a.container, base.container, "a variant ran in the base pool");
      assert.equal(a2.container, a.container, "two equal variants did not share a pool");
      const b = await who.withOptions({ env: { FLAVOUR: "b" } }).remote(0);
      assert.notEqual(b.container, a.container);
      const variant = await who.withOptions({ env: { FLAVOUR: "a" } }).hydrate();
      assert.notEqual(variant.objectId, who.objectId, "a variant has an id of its own");
    });

    it("withConcurrency sets how many inputs run at once", async () => {
      const who = await lookup<typeof Fixture.whoami>("whoami");
      const one = await Promise.all([1, 2, 3].map(() => who.withOptions({ maxContainers: 1 }).remote(300)));
      assert.deepEqual(
        one.map((r) => r.maxInFlight),
        [1, 1, 1],
      );
      const four = who.withOptions({ maxContainers: 1 }).withConcurrency({ maxInputs: 4 });
      const rs = await Promise.all([1, 2, 3, 4].map(() => four.remote(500)));
      assert.ok(
        rs.every((r) => r.maxInFlight === 4),
        `expected 4 at once: ${rs.map((r) => r.maxInFlight)}`,
      );
      assert.equal(new Set(rs.map((r) => r.container)).size, 1);
    });

    it("withOptions names a typo or an option variants cannot change", () => {
      assert.throws(
        () => Fixture.square.withOptions({ maxContainer: 3 } as never),
        (err: Error) =>
          err instanceof InvalidError && /option "maxContainer" cannot be changed per variant/.test(err.message),
      );
      assert.throws(() => Fixture.square.withOptions({ timeout: 5 } as never), /named "timeoutMs" in Skiff/);
      assert.throws(() => Fixture.square.withOptions({ schedule: undefined } as never), /"schedule" cannot be changed/);
      assert.throws(() => Fixture.square.withOptions({ maxContainers: 0 }), /maxContainers must be an integer/);
      assert.throws(() => Fixture.square.withBatching({ maxBatchSize: 2, waitMs: 1 }), /is not batched/);
      assert.throws(() => Fixture.embed.withConcurrency({ maxInputs: 2 }), /one batch at a time/);
    });

    it("a looked-up batched function refuses concurrency on the server", async () => {
      const embed = await lookup<typeof Fixture.embed>("embed");
      await assert.rejects(embed.withConcurrency({ maxInputs: 2 }).remote("x"), /one batch at a time/);
    });

    it("withBatching on a looked-up function: its own limits; on a non-batched one, a clear error", async () => {
      const embed = await lookup<typeof Fixture.embed>("embed");
      const pairs = embed.withBatching({ maxBatchSize: 2, waitMs: 60_000 });
      const rs = await Promise.all(["a", "bb", "ccc", "dddd"].map((t) => pairs.remote(t)));
      assert.deepEqual(
        rs.map((r) => [r.len, r.batch]),
        [
          [1, 2],
          [2, 2],
          [3, 2],
          [4, 2],
        ],
      );
      const sq = await lookup<typeof Fixture.square>("square");
      await assert.rejects(sq.withBatching({ maxBatchSize: 2, waitMs: 5 }).remote(2), /is not batched/);
    });

    it("local handles under skiff run: variants and withBatching; updateAutoscaler refuses an ephemeral app", async () => {
      const r = await skiff(["run", "test/fixtures/funcref-local-app.ts"], { env: server.env, timeoutMs: 90_000 });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      type Who = { container: string; flavour: string };
      type Line = { base: Who; v1: Who; v2: Who; one: unknown; id: string; name: string; error: string };
      const get = (check: string) => lines.find((l) => l.check === check) as unknown as Line;
      const v = get("variants");
      assert.equal(v.base.flavour, "base");
      assert.equal(v.v1.flavour, "v");
      assert.notEqual(v.v1.container, v.base.container);
      assert.equal(v.v2.container, v.v1.container, "equal variants share a pool");
      assert.deepEqual(get("withBatching").one, [
        { x: 2, batch: 1 },
        { x: 4, batch: 1 },
      ]);
      assert.match(get("objectId").id, /^fu-/);
      const a = get("autoscaler");
      assert.equal(a.name, "InvalidError", JSON.stringify(a));
      assert.match(a.error, /is ephemeral .*deploy it/);
    });
  });

  describe("updateAutoscaler", () => {
    it("changes a deployed function's scaling at once, shows it, and the next deploy resets it", async () => {
      const dir = scratchDir("funcref-scale");
      const file = writeApp(
        dir,
        "scale-app.ts",
        `import { App } from "skiff";\nexport const app = new App("funcref-scale");\nexport const f = app.function({ maxContainers: 3 }, async (x: number) => x + 1);\n`,
      );
      assert.equal((await skiff(["deploy", file], { env: server.env })).code, 0);
      const f = await Function_.lookup("funcref-scale", "f", { client: server.client() });
      assert.equal((await f.getCurrentStats()).numTotalRunners, 0);
      // A long scale-down window: only the live limit, not idleness, can take containers away.
      const now = await f.updateAutoscaler({ minContainers: 2, scaledownWindowMs: 600_000 });
      assert.deepEqual(now, { minContainers: 2, maxContainers: 3, bufferContainers: 0, scaledownWindowMs: 600_000 });
      await waitFor(async () => (await f.getCurrentStats()).numTotalRunners === 2, "2 warm containers");
      const c = server.client();
      const shown = await c.request("app.show", { name: "funcref-scale", environment: "main" });
      const row = shown.functions.find((x) => x.name === "f")!;
      assert.equal(row.minContainers, 2);
      assert.equal(row.scaledownWindowMs, 600_000);
      assert.ok(row.autoscalerUpdatedAt, "marked as updated live");
      const cli = await skiff(["app", "show", "funcref-scale"], { env: server.env });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^f\s+function\s+2\s+3\s+0\s+600s\s+1\s+-\s+\d+\s+\d+\s+live /m);
      assert.match(cli.stdout, /^funcref-scale \(ap-[0-9a-f]+\): deployed, version \d+$/m);
      // Live: lowering the maximum stops containers above it.
      await f.updateAutoscaler({ minContainers: 0, maxContainers: 1 });
      await waitFor(async () => (await f.getCurrentStats()).numTotalRunners === 1, "down to 1 container");
      // A redeploy puts back what the code says.
      assert.equal((await skiff(["deploy", file], { env: server.env })).code, 0);
      const after = (await c.request("app.show", { name: "funcref-scale", environment: "main" })).functions[0]!;
      assert.equal(after.minContainers, 0);
      assert.equal(after.maxContainers, 3);
      assert.equal(after.autoscalerUpdatedAt, undefined);
      const cli2 = await skiff(["app", "show", "funcref-scale"], { env: server.env });
      assert.match(cli2.stdout, /^f\s+function\s+0\s+3\s+0\s+60s\s+1\s+-\s+\d+\s+\d+\s+-$/m);
    });

    it("refuses min > max, unknown settings and variants, clearly", async () => {
      const f = await lookup<typeof Fixture.square>("square"); // maxContainers: 2
      await assert.rejects(
        f.updateAutoscaler({ minContainers: 3, maxContainers: 1 }),
        /minContainers \(3\) is above maxContainers \(1\)/,
      );
      // Only the minimum given: checked on the server against the live maximum.
      await assert.rejects(f.updateAutoscaler({ minContainers: 5 }), (err: Error) => {
        assert.ok(err instanceof InvalidError, err.name);
        assert.match(err.message, /minContainers \(5\) is above maxContainers \(2\)/);
        return true;
      });
      await assert.rejects(f.updateAutoscaler({ minContainer: 1 } as never), /unknown setting "minContainer"/);
      await assert.rejects(f.withOptions({ maxContainers: 1 }).updateAutoscaler({ minContainers: 1 }), /variant/);
    });
  });

  describe("dynamic batching", () => {
    it("callers send single inputs and get single outputs; a full batch leaves without waiting", async () => {
      const embed = await lookup<typeof Fixture.embed>("embed");
      // waitMs is a minute: these return only because the batch filled up. The first round
      // starts the container; in the second an idle container waits for the batch to fill.
      await Promise.all(["w", "w", "w", "w"].map((t) => embed.remote(t)));
      const rs = await Promise.all(["a", "bb", "ccc", "dddd"].map((t) => embed.remote(t)));
      assert.deepEqual(
        rs.map((r) => r.len),
        [1, 2, 3, 4],
      );
      assert.ok(rs.every((r) => r.batch === 4));
      assert.equal(new Set(rs.map((r) => r.container)).size, 1, "one batch runs in one container");
    });

    it("a lone input leaves waitMs after it arrived; two parameters each get a column", async () => {
      const quick = await lookup<typeof Fixture.quick>("quick");
      const t0 = Date.now();
      const r = await quick.remote(21);
      assert.deepEqual(r, { doubled: 42, batch: 1 });
      assert.ok(Date.now() - t0 >= 300, `returned after ${Date.now() - t0} ms, before waitMs`);
      const add = await lookup<typeof Fixture.add>("add");
      const sums = await Promise.all([1, 2, 3].map((x) => add.remote(x, 10 * x)));
      assert.deepEqual(sums, [11, 22, 33]);
    });

    it("map and spawn batch too; so does the web JSON API", async () => {
      const embed = await lookup<typeof Fixture.embed>("embed");
      const texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g", "hh"];
      const rs = await embed.map(texts).toArray();
      assert.deepEqual(
        rs.map((r) => r.len),
        texts.map((t) => t.length),
      );
      assert.ok(
        rs.every((r) => r.batch === 4),
        `batch sizes ${rs.map((r) => r.batch)}`,
      );
      const calls = await Promise.all(["x", "yy", "zzz", "wwww"].map((t) => embed.spawn(t)));
      const again = FunctionCall.fromId<{ len: number }>(calls[1]!.objectId, { client: server.client() });
      assert.equal((await again.get()).len, 2);
      const auth = { authorization: `Bearer ${server.tokenId}:${server.tokenSecret}` };
      const post = (x: string) =>
        fetch(`${server.url}/v1/functions/${APP}/embed/call`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ args: [x] }),
        }).then((r) => r.json() as Promise<{ status: string; result: { len: number; batch: number } }>);
      const web = await Promise.all(["1", "22", "333", "4444"].map(post));
      assert.deepEqual(
        web.map((w) => [w.status, w.result.len, w.result.batch]),
        [
          ["success", 1, 4],
          ["success", 2, 4],
          ["success", 3, 4],
          ["success", 4, 4],
        ],
      );
    });

    it("a batch that throws fails its own inputs only", async () => {
      const picky = await lookup<typeof Fixture.picky>("picky");
      const settled = await Promise.allSettled(["poison", "a", "b", "c"].map((x) => picky.remote(x)));
      assert.equal(settled[0]!.status, "rejected");
      assert.equal(settled[1]!.status, "rejected");
      assert.match(String((settled[1] as PromiseRejectedResult).reason), /batch \[poison,a\] held poison/);
      assert.deepEqual(
        settled.slice(2).map((s) => (s as PromiseFulfilledResult<string>).value),
        ["B", "C"],
      );
    });

    it("a wrong number of outputs, or a non-array, fails every input of the batch clearly", async () => {
      const sc = await lookup<typeof Fixture.shortchanged>("shortchanged");
      const rs = await Promise.allSettled([1, 2, 3].map((x) => sc.remote(x)));
      for (const r of rs) {
        assert.equal(r.status, "rejected");
        const err = (r as PromiseRejectedResult).reason as Error;
        assert.equal(err.name, "BatchError");
        assert.match(
          err.message,
          /funcref-app\.shortchanged is batched: .* for a batch of 3 inputs it returned 2 outputs/,
        );
      }
      const scalar = Function_.fromName<Function_<(x: number) => Promise<number>>>(APP, "scalar", {
        client: server.client(),
      });
      await assert.rejects(scalar.remote(2), (err: Error) => {
        assert.equal(err.name, "BatchError");
        assert.match(err.message, /takes an array of inputs per parameter .* it returned number, not an array/);
        return true;
      });
      // The container survived: the next call gets the same clear error, not a crash.
      await assert.rejects(scalar.remote(3), /returned number, not an array/);
    });

    it("retries and timeouts apply per batch", async () => {
      const flaky = await lookup<typeof Fixture.flaky>("flaky");
      const rs = await Promise.all([1, 2, 3].map((x) => flaky.remote(x)));
      assert.deepEqual(
        rs.map((r) => r.x),
        [1, 2, 3],
      );
      assert.ok(
        rs.every((r) => r.batchAttempt === 2),
        `batch attempts ${rs.map((r) => r.batchAttempt)}`,
      );
      const sleepy = await lookup<typeof Fixture.sleepy>("sleepy");
      const t = await Promise.allSettled([1, 2].map((x) => sleepy.remote(x)));
      for (const r of t) {
        assert.equal(r.status, "rejected");
        assert.ok((r as PromiseRejectedResult).reason instanceof FunctionTimeoutError);
      }
    });

    it("a class's batched method: single inputs in, single outputs out", async () => {
      const E = await Cls.lookup<typeof Fixture.Embedder>(APP, "Embedder", { client: server.client() });
      const m = E.instance().embed as unknown as Function_<(x: string) => Promise<string>>;
      const rs = await Promise.all(["p", "q", "r"].map((x) => m.remote(x)));
      assert.deepEqual(rs, ["p:3", "q:3", "r:3"]);
      // A class variant with other batch limits: batches of one.
      const ones = E.withBatching({ maxBatchSize: 1, waitMs: 0 }).instance().embed as unknown as typeof m;
      assert.deepEqual(await Promise.all(["s", "t"].map((x) => ones.remote(x))), ["s:1", "t:1"]);
    });

    it("limits and shapes are checked where the function is defined", async () => {
      const { App, method } = await import("skiff");
      const app = new App("batch-limits");
      assert.throws(
        () => app.function({ batched: { maxBatchSize: 1001, waitMs: 5 } }, (xs: number[]) => xs),
        /batched.maxBatchSize must be an integer from 1 to 1000, got 1001/,
      );
      assert.throws(
        () => app.function({ batched: { maxBatchSize: 10, waitMs: 600_001 } }, (xs: number[]) => xs),
        /batched.waitMs must be an integer from 0 to 600000/,
      );
      assert.throws(
        () => app.function({ batched: { maxBatchSize: 10 } as never }, (xs: number[]) => xs),
        /batched.waitMs must be an integer/,
      );
      assert.throws(
        () => app.function({ batched: { maxBatchSize: 10, waitMs: 5, size: 3 } as never }, (xs: number[]) => xs),
        /batched has no option "size"/,
      );
      assert.throws(
        () =>
          app.function(
            { batched: { maxBatchSize: 10, waitMs: 5 }, concurrency: { maxInputs: 2 } },
            (xs: number[]) => xs,
          ),
        /one batch at a time/,
      );
      assert.throws(
        () =>
          app.function({ batched: { maxBatchSize: 10, waitMs: 5 } }, async function* (xs: number[]) {
            yield xs;
          } as never),
        /generator function cannot be batched/,
      );
      assert.throws(
        () => method({ batched: { maxBatchSize: 0, waitMs: 1 } }),
        /maxBatchSize must be an integer from 1/,
      );
      // local(): a batch of one, checked like a container checks it.
      assert.deepEqual(await Fixture.quick.local(4), { doubled: 8, batch: 1 });
      await assert.rejects(Fixture.shortchanged.local(1) as Promise<unknown>, /1 input/);
    });
  });
});
