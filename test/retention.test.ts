// Retention through the real CLI and server: what the store keeps stays bounded over time
// (docs/operations.md, "Retention"). Runs on SQLite, and on Postgres in the test script's
// Postgres pass (SKIFF_TEST_STORE=postgres).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Cls, Function_, FunctionCall, NotFoundError, OutputExpiredError } from "skiff";
import type * as ClsApp from "./fixtures/cls-app.js";
import { type ServerProcess, scratchDir, skiff, startServer, waitFor, writeApp } from "./helpers/cli.js";

const RETENTION_MS = 1000;

describe("retention", () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer({
      args: ["--result-retention-ms", String(RETENTION_MS), "--log-max-bytes", "2048", "--instance-idle-ms", "200"],
    });
  });
  after(() => server.stop());

  it("an expired result answers OutputExpiredError, and is forgotten (NotFoundError) after as long again", async () => {
    assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
    const client = server.client();
    const square = await Function_.lookup<Function_<(x: number) => Promise<number>>>("core-app", "square", { client });
    const call = await square.spawn(7);
    assert.equal(await call.get(), 49);
    await new Promise((r) => setTimeout(r, RETENTION_MS + 300));
    await assert.rejects(call.get(), OutputExpiredError);
    await waitFor(
      async () => {
        try {
          await FunctionCall.fromId<number>(call.objectId, { client }).get();
          return false;
        } catch (e) {
          return e instanceof NotFoundError;
        }
      },
      "the expired call to be forgotten",
      15_000,
    );
    client.close();
  });

  it("a stopped `skiff run` app is forgotten: not listed, no history", async () => {
    const dir = scratchDir("retention-run");
    const file = writeApp(
      dir,
      "once.ts",
      `import { App } from "skiff";\nexport const app = new App("run-once");\nexport const hello = app.function(async () => "hi");\n`,
    );
    // Asked in this process the moment the run ends (a new CLI process could take longer than
    // the 1 s retention to ask on a loaded machine, and find it already forgotten).
    const client = server.client();
    await client.request("app.list", { environment: "main" }); // connected before the run
    const r = await skiff(["run", `${file}::hello`], { env: server.env });
    const known = await client.request("app.history", { name: "run-once", environment: "main" });
    client.close();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(known.deployments.length > 0, "known right after");
    await waitFor(
      async () => (await skiff(["app", "history", "run-once"], { env: server.env })).code === 1,
      "the stopped app to be forgotten",
      15_000,
    );
    const list = await skiff(["app", "list"], { env: server.env });
    assert.doesNotMatch(list.stdout, /run-once/);
  });

  it("keeps an app's newest 10 deployments", async () => {
    const dir = scratchDir("retention-deploy");
    for (let v = 1; v <= 12; v++) {
      const file = writeApp(
        dir,
        "many.ts",
        `import { App } from "skiff";\nexport const app = new App("many-versions");\nexport const f = app.function(async () => ${v});\n`,
      );
      const d = await skiff(["deploy", file], { env: server.env });
      assert.equal(d.code, 0, d.stderr);
    }
    const hist = await skiff(["app", "history", "many-versions"], { env: server.env });
    const versions = [...hist.stdout.matchAll(/^(\d+)\s/gm)].map((m) => Number(m[1]));
    assert.deepEqual(versions, [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
    const client = server.client();
    const f = await Function_.lookup<Function_<() => Promise<number>>>("many-versions", "f", { client });
    assert.equal(await f.remote(), 12);
    client.close();
  });

  it("caps an app's logs at --log-max-bytes", async () => {
    const dir = scratchDir("retention-logs");
    const file = writeApp(
      dir,
      "chat.ts",
      `import { App } from "skiff";\nexport const app = new App("chatter");\n` +
        `export const talk = app.function(async (n: number) => { for (let i = 0; i < n; i++) console.log(String(i).padStart(6, "0") + "x".repeat(93)); return n; });\n`,
    );
    assert.equal((await skiff(["deploy", file], { env: server.env })).code, 0);
    const client = server.client();
    const talk = await Function_.lookup<Function_<(n: number) => Promise<number>>>("chatter", "talk", { client });
    assert.equal(await talk.remote(200), 200); // 200 lines of 100 bytes: 20 000 bytes
    const text = await waitFor(
      async () => {
        const r = await skiff(["app", "logs", "chatter", "--tail", "1000"], { env: server.env });
        const lines = r.stdout.split("\n").filter((l) => /x{93}/.test(l));
        return lines.length > 0 && lines.length <= 21 && /000199x/.test(r.stdout) ? lines : undefined;
      },
      "the logs to be trimmed to 2048 bytes",
      15_000,
    );
    assert.match(text.at(-1)!, /000199x/, "the newest lines are the ones kept");
    client.close();
  });

  it("a class instance unused for the retention is dropped, and written again when bound again", async () => {
    assert.equal((await skiff(["deploy", "test/fixtures/cls-app.ts"], { env: server.env })).code, 0);
    const client = server.client();
    const Model = await Cls.lookup<typeof ClsApp.Model>("cls-app", "Model", { client });
    const before = (server.output().match(/dropped \d+ class instance/g) ?? []).length;
    const big = Model.instance({ size: "retained", scale: 7 });
    assert.equal((await big.info.remote(1)).loadedFor, "retainedx7");
    // Its container scales down (1 s), the instance is let go from memory (200 ms idle), then
    // is unused for the retention (1 s): its row goes.
    await waitFor(
      async () => (server.output().match(/dropped \d+ class instance/g) ?? []).length > before,
      "the unused instance's row to be dropped",
      30_000,
    );
    // The object bound before holds an id the store no longer knows: a clear error.
    await assert.rejects(big.info.remote(3), /call instance\(\) again/);
    // The same parameters, bound again: a new row, the same answer.
    const again = await Cls.lookup<typeof ClsApp.Model>("cls-app", "Model", { client });
    assert.equal((await again.instance({ size: "retained", scale: 7 }).info.remote(2)).loadedFor, "retainedx7");
    client.close();
  });
});
