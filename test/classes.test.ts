// Classes with lifecycle (api.md §3), through the real CLI, server and containers.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { Cls, Function_, FunctionCall, InitError, InvalidError, NotFoundError } from "skiff";
import type * as ClsApp from "./fixtures/cls-app.js";
import {
  bareEnv,
  runProcess,
  type ServerProcess,
  scratchDir,
  skiff,
  startServer,
  waitFor,
  writeApp,
} from "./helpers/cli.js";
import { freePort } from "./helpers/procs.js";

type Info = { container: string; thread: number; enters: number; loadedFor: string; x: number; attempt: number };

describe("classes: @app.cls, @parameter, @enter / @exit, Cls", () => {
  let server: ServerProcess;
  let Model: Cls<typeof ClsApp.Model>;

  const logLines = async (pattern: RegExp): Promise<string[]> => {
    const r = await skiff(["app", "logs", "cls-app", "--tail", "1000"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split("\n").filter((l) => pattern.test(l));
  };

  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/cls-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /Model \(class: info, busy, count\)\s+fu-/);
    Model = await Cls.lookup<typeof ClsApp.Model>("cls-app", "Model", { client: server.client() });
  });
  after(() => server.stop());

  it("the seed's lifecycle class: deployed, looked up from a plain Node process, called", async () => {
    const d = await skiff(["deploy", "examples/lifecycle-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    const r = await runProcess(process.execPath, ["examples/lifecycle-client.mjs"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /foo\(\) = hello world/);
  });

  it("errors name what was asked for: a class, a method (with the ones it has), a call", async () => {
    const client = server.client();
    await assert.rejects(
      Cls.lookup("cls-app", "Modle", { client }),
      (e: Error) =>
        e instanceof NotFoundError && /^app "cls-app" has no class "Modle" \(it has: .*Model/.test(e.message),
    );
    const inst = Model.instance({ size: "small" }) as unknown as Record<string, unknown>;
    assert.throws(
      () => inst.infoo,
      (e: Error) =>
        e instanceof NotFoundError &&
        e.message === 'class cls-app.Model has no @method() "infoo" (did you mean "info"?) (it has: info, busy, count)',
    );
    assert.equal(typeof inspect(inst), "string", "inspecting an instance reads no method");
    assert.equal("infoo" in inst, false);
    await assert.rejects(FunctionCall.fromId(`fc-${"0".repeat(24)}`, { client }).get(), NotFoundError);
  });

  it("@enter runs once per container, before its first input, across many inputs", async () => {
    const wide = Model.withOptions({ maxContainers: 3 }).instance({ size: "wide" });
    const results = (await wide.info.map(Array.from({ length: 60 }, (_, i) => i)).toArray()) as Info[];
    assert.deepEqual(
      results.map((r) => r.x),
      Array.from({ length: 60 }, (_, i) => i),
    );
    const containers = new Set(results.map((r) => r.container));
    for (const r of results) {
      assert.equal(r.enters, 1, `container ${r.container} ran @enter ${r.enters} times`);
      assert.equal(r.loadedFor, "widex1", "@enter saw the instance's parameters");
    }
    // The side channel: each container logged ENTER exactly once.
    const lines = await waitFor(async () => {
      const l = await logLines(/ENTER .*size=wide/);
      return l.length >= containers.size && l;
    }, "ENTER log lines");
    for (const c of containers) {
      assert.equal(lines.filter((l) => l.includes(`container=${c}`)).length, 1, `ENTER lines of ${c}`);
    }
  });

  it("parameters are the identity: same parameters share a pool, different ones never share a container", async () => {
    const a = (await Model.instance().info.remote(1)) as Info;
    const sameAsDefault = (await Model.instance({ size: "small", scale: 1 }).info.remote(2)) as Info;
    assert.equal(sameAsDefault.container, a.container, "instance({}) and instance({ size: 'small' }) are one instance");
    const other = (await Model.instance({ size: "large", scale: 3 }).info.remote(3)) as Info;
    assert.notEqual(other.container, a.container);
    assert.equal(other.loadedFor, "largex3");
    // Concurrent calls on both: still never crossed.
    const [xs, ys] = await Promise.all([
      Model.instance({ size: "p" }).info.map([1, 2, 3, 4, 5]).toArray(),
      Model.instance({ size: "q" }).info.map([1, 2, 3, 4, 5]).toArray(),
    ]);
    const px = new Set((xs as Info[]).map((r) => r.container));
    const qx = new Set((ys as Info[]).map((r) => r.container));
    for (const c of px) assert.ok(!qx.has(c), "two parameter sets shared a container");
    assert.ok((xs as Info[]).every((r) => r.loadedFor === "px1"));
    assert.ok((ys as Info[]).every((r) => r.loadedFor === "qx1"));
  });

  it("every method has remote, map, spawn and remoteGen", async () => {
    const m = Model.instance({ size: "gen" });
    const items: string[] = [];
    for await (const x of m.count.remoteGen(4)) items.push(x);
    assert.deepEqual(items, ["gen:0", "gen:1", "gen:2", "gen:3"]);
    const call = await m.info.spawn(11);
    const again = await Function_.fromName<typeof ClsApp.viaCls>("cls-app", "viaCls", {
      client: server.client(),
    }).remote("inner");
    assert.equal((await call.get()).x, 11);
    // A function of the same app reaches the class through Cls.from.
    assert.equal((again as Info).loadedFor, "innerx1");
    await assert.rejects(m.count.remote(1), /generator function: call remoteGen/);
  });

  it("withConcurrency changes how many inputs run at once in a container", async () => {
    const one = Model.instance({ size: "c1" });
    const maxOne = await Promise.all([1, 2, 3, 4].map(() => one.busy.remote(250)));
    assert.deepEqual(maxOne, [1, 1, 1, 1]);
    const four = Model.withConcurrency({ maxInputs: 4 }).instance({ size: "c1" });
    const maxFour = await Promise.all([1, 2, 3, 4].map(() => four.busy.remote(400)));
    assert.ok(
      maxFour.every((n) => n === 4),
      `expected 4 inputs at once, got ${maxFour}`,
    );
    // On threads, each thread loads the class and runs its own @enter.
    const threaded = Model.withConcurrency({ maxInputs: 2, threads: true }).instance({ size: "t" });
    const rs = (await threaded.info.map([1, 2, 3, 4, 5, 6]).toArray()) as Info[];
    for (const r of rs) {
      assert.notEqual(r.thread, 0, "ran on the main thread");
      assert.equal(r.enters, 1);
      assert.equal(r.loadedFor, "tx1");
    }
  });

  it("unknown or mistyped parameters and methods are clear errors", async () => {
    assert.throws(
      () => Model.instance({ nope: 1 } as never),
      /unknown parameter "nope" \(its @parameter\(\) fields: size, scale\)/,
    );
    assert.throws(() => Model.instance({ size: 5 } as never), InvalidError);
    // A lazy handle learns the schema on first use: the error comes from the call.
    const lazy = Cls.fromName<typeof ClsApp.Model>("cls-app", "Model", { client: server.client() });
    await assert.rejects(lazy.instance({ scale: "big" } as never).info.remote(1), /parameter "scale" must be a number/);
    await assert.rejects(
      (lazy.instance() as unknown as Record<string, Function_>).nothere!.remote(),
      (e: Error) =>
        e instanceof NotFoundError && /no @method\(\) "nothere" \(it has: info, busy, count\)/.test(e.message),
    );
    await assert.rejects(Cls.lookup("cls-app", "Nope", { client: server.client() }), NotFoundError);
    await assert.rejects(Cls.lookup("cls-app", "viaCls", { client: server.client() }), /is a function, not a class/);
    assert.throws(() => Model.withOptions({ schedule: 1 } as never), /cannot be changed per variant/);
  });

  it("a failing @enter fails the inputs with an init error naming the hook, and does not hang", async () => {
    const broken = (
      await Cls.lookup<typeof ClsApp.Broken>("cls-app", "Broken", { client: server.client() })
    ).instance();
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        broken.predict.remote(),
        (e: Error) => e instanceof InitError && /@enter\(\) Broken\.load failed: no weights here/.test(e.message),
      );
    }
  });

  it("@exit runs when the container scales down", async () => {
    const r = (await Model.instance({ size: "bye" }).info.remote(1)) as Info;
    // scaledownWindowMs is 1 s: the idle container is shut down and logs from its @exit.
    await waitFor(
      async () => (await logLines(new RegExp(`EXIT container=${r.container} size=bye`))).length === 1,
      "the @exit log line",
      20_000,
    );
  });

  it("experimentalDecorators gets a clear error, not silently broken decorators", async () => {
    const dir = scratchDir("legacy-dec");
    writeApp(
      dir,
      "tsconfig.json",
      JSON.stringify({ compilerOptions: { experimentalDecorators: true, target: "ES2022" } }),
    );
    const file = writeApp(
      dir,
      "app.ts",
      `import { App, method } from "skiff";
export const app = new App("legacy-app");
@app.cls()
export class Old {
  @method() async go() { return 1; }
}
`,
    );
    const r = await skiff(["deploy", file], { env: server.env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /experimentalDecorators/);
  });
});

describe("class instances across a control-plane restart", () => {
  it("a spawned method call of a parameterised instance completes after kill -9 and restart", async () => {
    const port = await freePort();
    let server = await startServer({ args: ["--port", String(port)] });
    const home = server.home;
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/cls-app.ts"], { env: server.env })).code, 0);
      const M = await Cls.lookup<typeof ClsApp.Model>("cls-app", "Model", { client: server.client() });
      const inst = M.instance({ size: "durable", scale: 2 });
      const calls = await Promise.all([inst.busy.spawn(600), inst.info.spawn(5)]);
      await new Promise((r) => setTimeout(r, 200));
      await server.kill();
      server = await startServer({ args: ["--port", String(port)], home, dataDir: server.dataDir, token: server });
      const client = server.client();
      assert.equal(await FunctionCall.fromId<number>(calls[0].objectId, { client }).get(), 1);
      const info = (await FunctionCall.fromId<Info>(calls[1].objectId, { client }).get()) as Info;
      // The instance's pool came back with its parameters, and the call kept its method.
      assert.equal(info.loadedFor, "durablex2");
      assert.equal(info.x, 5);
    } finally {
      await server.stop();
    }
  });
});

describe("skiff run on a class", () => {
  it("calls Class.method on the default instance, streams a generator method, and runs @exit at the end", async () => {
    const env = bareEnv(scratchDir("cls-run"));
    const r = await skiff(["run", "test/fixtures/cls-app.ts::Model.info", "--", "5"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /loadedFor: 'smallx1'/);
    assert.match(r.stdout, /x: 5/);
    assert.match(r.stdout, /EXIT container=\w+ size=small/);
    const g = await skiff(["run", "test/fixtures/cls-app.ts::Model.count", "--", "2"], { env });
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, /small:0\nsmall:1\n/);
    const bad = await skiff(["run", "test/fixtures/cls-app.ts::Model.nope"], { env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /has no function "Model.nope" \(it has: viaCls, Model.info, Model.busy, Model.count/);
  });
});

describe("idle class instances leave memory", () => {
  it("an instance with no calls and no containers is let go, and its next call takes it back", async () => {
    const server = await startServer({ args: ["--instance-idle-ms", "300"] });
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/cls-app.ts"], { env: server.env })).code, 0);
      const M = await Cls.lookup<typeof ClsApp.Model>("cls-app", "Model", { client: server.client() });
      const inst = M.instance({ size: "idle" });
      assert.equal(((await inst.info.remote(1)) as Info).loadedFor, "idlex1");
      // The container scales down after 1 s, then the instance is idle for 300 ms.
      await waitFor(
        async () => /let go of idle class instance cls-app\.Model/.test(server.output()),
        "release",
        20_000,
      );
      const again = (await inst.info.remote(2)) as Info;
      assert.equal(again.loadedFor, "idlex1", "taken back with its parameters");
      assert.equal(again.enters, 1, "in a new container");
    } finally {
      await server.stop();
    }
  });
});
