// Deployments and the seed flows, through the real CLI and separate processes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import {
  REPO,
  runProcess,
  type ServerProcess,
  scratchDir,
  skiff,
  startServer,
  waitFor,
  writeApp,
} from "./helpers/cli.js";

describe("deploy, apps and the seed flows", () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  it("writes a profile at first start, so deploy just works", () => {
    const toml = readFileSync(server.env.SKIFF_CONFIG_PATH!, "utf8");
    assert.match(toml, new RegExp(`server_url = "${server.url}"`));
    assert.match(toml, /token_secret = "ts-/);
    assert.match(server.output(), /Admin token \(shown once\)/);
  });

  it("deploys my-shared-app and a plain Node script looks it up and calls it", async () => {
    const d = await skiff(["deploy", "examples/shared-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, /Bundled examples\/shared-app\.ts/);
    assert.match(d.stdout, /square\s+fu-[0-9a-f]{24}/);
    const r = await runProcess(process.execPath, ["examples/client.mjs"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /square\(42\) = 1764/);
    assert.match(r.stdout, /squares: 1, 4, 9, 16, 25/);
    assert.match(r.stdout, /more: 36, 49/);
  });

  it("a second app calls the first by name (cube = x * square(x))", async () => {
    const r = await skiff(["run", "examples/cube-app.ts"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cube\(3\) = 27/);
  });

  it("a Hono job queue spawns a job per POST and answers status by polling the call id", async () => {
    const d = await skiff(["deploy", "examples/job-queue/jobs.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    const proc = spawn(process.execPath, ["--import", "tsx", "examples/job-queue/server.ts"], {
      env: { ...server.env, PORT: "0" },
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      proc.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
      proc.stderr.setEncoding("utf8").on("data", (s: string) => (out += s));
      const base = await waitFor(
        async () => /listening on (http:\/\/\S+)/.exec(out)?.[1],
        `job server to start: ${out}`,
      );
      const post = await fetch(`${base}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "hello skiff world", delayMs: 800 }),
      });
      assert.equal(post.status, 202);
      const { id } = (await post.json()) as { id: string };
      assert.match(id, /^fc-/);
      const first = (await (await fetch(`${base}/jobs/${id}`)).json()) as { status: string };
      assert.equal(first.status, "pending");
      const done = await waitFor(async () => {
        const s = (await (await fetch(`${base}/jobs/${id}`)).json()) as {
          status: string;
          result?: { words: number; upper: string };
        };
        return s.status === "done" ? s : undefined;
      }, "the job to finish");
      assert.deepEqual(done.result, { words: 3, upper: "HELLO SKIFF WORLD" });
      const bad = await fetch(`${base}/jobs/nonsense`);
      assert.equal(bad.status, 400);
    } finally {
      proc.kill("SIGTERM");
    }
  });

  it("redeploys as a new version that replaces the live one, and keeps history", async () => {
    const dir = scratchDir("redeploy");
    const file = writeApp(
      dir,
      "v.ts",
      `import { App } from "skiff";\nexport const app = new App("versioned");\nexport const version = app.function(async () => "v1");\n`,
    );
    assert.equal((await skiff(["deploy", file], { env: server.env })).code, 0);
    const client = server.client();
    const fn = await Function_.lookup<Function_<() => Promise<string>>>("versioned", "version", {
      client,
    });
    assert.equal(await fn.remote(), "v1");
    writeApp(
      dir,
      "v.ts",
      `import { App } from "skiff";\nexport const app = new App("versioned");\nexport const version = app.function(async () => "v2");\nexport const extra = app.function(async () => 1);\n`,
    );
    const d2 = await skiff(["deploy", file], { env: server.env });
    assert.match(d2.stdout, /live at version 2/);
    assert.equal(await fn.remote(), "v2", "the same handle reaches the new version");
    const hist = await skiff(["app", "history", "versioned"], { env: server.env });
    assert.match(hist.stdout, /^VERSION/m);
    assert.match(hist.stdout, /^2\s.*version,extra/m);
    assert.match(hist.stdout, /^1\s.*version$/m);
    const list = await skiff(["app", "list"], { env: server.env });
    assert.match(list.stdout, /versioned\s+ap-\S+\s+deployed\s+deployed\s+2/);
    const stop = await skiff(["app", "stop", "versioned"], { env: server.env });
    assert.equal(stop.code, 0, stop.stderr);
    await assert.rejects(fn.remote(), /not running|stopped/);
    // A server-side error reads as one line with one prefix: the error's own class name.
    const unknown = await skiff(["app", "history", "no-such-app"], { env: server.env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr.trim(), /^NotFoundError: [^\n]*no-such-app[^\n]*$/);
  });

  it("keeps logs tagged with function and input for `skiff app logs`", async () => {
    assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
    const client = server.client();
    const chatty = await Function_.lookup<Function_<(s: string) => Promise<string>>>("core-app", "chatty", { client });
    await chatty.remote("logs-test");
    const r = await waitFor(async () => {
      const x = await skiff(["app", "logs", "core-app", "--tail", "20"], { env: server.env });
      return /hello logs-test/.test(x.stdout) ? x : undefined;
    }, "logs to appear");
    assert.match(r.stdout, /\[chatty in-[0-9a-f]+\] hello logs-test/);
    assert.match(r.stdout, /\[chatty in-[0-9a-f]+\] warn logs-test/);
  });

  it("streams container output to `skiff run`", async () => {
    const r = await skiff(["run", "test/fixtures/core-app.ts::chatty", "--", "streamed"], {
      env: server.env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hello streamed\n/);
    assert.match(r.stderr, /warn streamed\n/);
  });

  it("passes secrets only as environment variables, and never prints them", async () => {
    const c = await skiff(["secret", "create", "api-keys", "API_KEY=s3cr3t-value", "OTHER=x"], {
      env: server.env,
    });
    assert.equal(c.code, 0, c.stderr);
    const again = await skiff(["secret", "create", "api-keys", "API_KEY=y"], { env: server.env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    const list = await skiff(["secret", "list"], { env: server.env });
    assert.match(list.stdout, /api-keys\s+API_KEY,OTHER/);
    assert.doesNotMatch(list.stdout + list.stderr + c.stdout + c.stderr, /s3cr3t-value/);
    assert.equal((await skiff(["deploy", "test/fixtures/named-secret-app.ts"], { env: server.env })).code, 0);
    const client = server.client();
    const read = await Function_.lookup<Function_<(k: string) => Promise<string | null>>>("secret-app", "readSecret", {
      client,
    });
    assert.equal(await read.remote("API_KEY"), "s3cr3t-value");
    const core = await Function_.lookup<Function_<(k: string) => Promise<string | null>>>("core-app", "readEnv", {
      client,
    });
    assert.equal(await core.remote("INLINE_KEY"), "inline-value");
    assert.equal(await core.remote("PLAIN"), "plain-value");
    assert.equal(await core.remote("API_KEY"), null, "another app's secret is not visible");
    assert.equal(await core.remote("SKIFF_CONTAINER_TOKEN"), null, "the container's credentials are not visible");
    const environ = await Function_.lookup<Function_<(s: string) => Promise<boolean>>>("core-app", "environHas", {
      client,
    });
    assert.equal(await environ.remote("SKIFF_CONTAINER_TOKEN"), false, "nor in /proc/self/environ");
    assert.equal(await environ.remote("inline-value"), false, "secrets are not in /proc/self/environ");
    const del = await skiff(["secret", "delete", "api-keys"], { env: server.env });
    assert.equal(del.code, 0);
    const missing = await skiff(["deploy", "test/fixtures/named-secret-app.ts"], {
      env: server.env,
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /uses secret "api-keys", which does not exist/);
  });

  it("runs a deployed function on its schedule until the app stops", async () => {
    const d = await skiff(["deploy", "test/fixtures/schedule-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    const ticks = async () => {
      const r = await skiff(["app", "logs", "schedule-app", "--tail", "100"], { env: server.env });
      return (r.stdout.match(/\[tick in-[0-9a-f]+\] tick at/g) ?? []).length;
    };
    await waitFor(async () => (await ticks()) >= 2, "two scheduled runs", 10_000);
    assert.equal((await skiff(["app", "stop", "schedule-app"], { env: server.env })).code, 0);
    await new Promise((r) => setTimeout(r, 300)); // a run already started may still log
    const after = await ticks();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await ticks(), after, "no runs after the app stopped");
  });

  it("warns at deploy of a GPU no connected worker has (its calls wait for one to join)", async () => {
    const r = await skiff(["deploy", "test/fixtures/gpu-app.ts"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: gpu-app\.train: no connected worker can run a container needing 1 GPU\(s\) of type H100 and 128 MiB \(workers: local: no GPUs/,
    );
    assert.equal((await skiff(["app", "stop", "gpu-app"], { env: server.env })).code, 0);
  });

  it("creates a token and writes it to a profile", async () => {
    const home = scratchDir("token-home");
    const cfg = `${home}/.skiff.toml`;
    const env = {
      ...server.env,
      SKIFF_CONFIG_PATH: cfg,
      SKIFF_SERVER_URL: server.url,
      SKIFF_TOKEN_ID: server.tokenId,
      SKIFF_TOKEN_SECRET: server.tokenSecret,
    };
    const r = await skiff(["token", "new", "--profile", "ci"], { env });
    assert.equal(r.code, 0, r.stderr);
    const toml = readFileSync(cfg, "utf8");
    assert.match(toml, /\[ci\]/);
    assert.match(toml, /token_id = "tk-/);
    // The new token works on its own.
    const only = { ...server.env, SKIFF_CONFIG_PATH: cfg };
    const list = await skiff(["app", "list"], { env: only });
    assert.equal(list.code, 0, list.stderr);
    const web = await skiff(["token", "new", "--web"], { env });
    assert.match(web.stdout, /token secret: ts-/);
  });
});
