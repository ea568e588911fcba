// Failing fast and saying what to do: a configured server that is down or silent, bad
// configuration, a token the server does not know; and Ctrl-C in `skiff run`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  bareEnv,
  REPO,
  type ServerProcess,
  SKIFF_BIN,
  scratchDir,
  skiff,
  startServer,
  waitFor,
  writeApp,
} from "./helpers/cli.js";
import { containerPids, freePort, silentHost } from "./helpers/procs.js";

/** Runs the CLI and measures how long it took, less the time a bare `skiff --version` takes. */
async function timed(args: string[], env: NodeJS.ProcessEnv) {
  const t0 = performance.now();
  await skiff(["--version"], { env });
  const baseline = performance.now() - t0;
  const t1 = performance.now();
  const r = await skiff(args, { env });
  return { ...r, ms: performance.now() - t1 - baseline };
}

/** A process that still exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

describe("a configured server that does not answer", () => {
  const home = scratchDir("failfast-home");
  const file = join(home, ".skiff.toml");
  const env = bareEnv(home);
  let silent: { url: string; close(): void };
  let downUrl = "";

  before(async () => {
    downUrl = `http://127.0.0.1:${await freePort()}`;
    silent = await silentHost();
    writeFileSync(
      file,
      `[down]\nserver_url = "${downUrl}"\ntoken_id = "tk-x"\ntoken_secret = "s"\nactive = true\n\n[silent]\nserver_url = "${silent.url}"\ntoken_id = "tk-x"\ntoken_secret = "s"\n`,
    );
  });
  after(() => silent.close());

  it("is reported at once, naming the URL, the profile and what to do", async () => {
    const r = await timed(["app", "list"], env);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^ConnectionError: cannot reach the Skiff server at http:\/\/127\.0\.0\.1:\d+ /);
    assert.ok(lines[0]!.includes(`${downUrl} (from profile "down" in ${file})`), lines[0]);
    assert.match(lines[0]!, /ECONNREFUSED.*Start it with `skiff server`/);
    assert.ok(r.ms < 2000, `reported after ${Math.round(r.ms)} ms`);
  });

  it("a silent one within 2 s, and `skiff run` says how to run on an embedded server", async () => {
    const r = await timed(["run", "examples/quickstart.ts"], { ...env, SKIFF_PROFILE: "silent" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no answer within 2000 ms/);
    assert.ok(r.stderr.includes(`(from profile "silent" in ${file})`), r.stderr);
    assert.match(r.stderr, /or run on an embedded server: skiff run --embedded examples\/quickstart\.ts/);
    // Bundling comes first (under a second), then at most the 2 s of waiting for an answer.
    assert.ok(r.ms < 4000, `reported after ${Math.round(r.ms)} ms`);
  });

  it("`skiff run --embedded` runs regardless", async () => {
    const r = await skiff(["run", "--embedded", "examples/quickstart.ts"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /square\(42\) = 1764/);
  });
});

describe("bad configuration gets one line naming the cause", () => {
  const home = scratchDir("badconf-home");
  const env = bareEnv(home);
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  it("a malformed SKIFF_SERVER_URL", async () => {
    for (const [url, why] of [
      ["localhost:7420", "which has no http:// or https://"],
      ["ftp://127.0.0.1:7420", "whose scheme ftp is not http or https"],
      ["http://", "not a URL"],
    ] as const) {
      const r = await skiff(["app", "list"], {
        env: { ...env, SKIFF_SERVER_URL: url, SKIFF_TOKEN_ID: "tk-x", SKIFF_TOKEN_SECRET: "s" },
      });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr.trim(),
        `Error: SKIFF_SERVER_URL is ${JSON.stringify(url)}, ${why}: expected http://host:port, https://host:port or unix:/path/to.sock`,
      );
    }
  });

  it("a profile naming a server that does not exist", async () => {
    const file = join(home, "bad.toml");
    writeFileSync(
      file,
      `[gone]\nserver_url = "http://no-such-host.invalid:7420"\ntoken_id = "a"\ntoken_secret = "b"\n`,
    );
    const r = await skiff(["app", "list"], { env: { ...env, SKIFF_CONFIG_PATH: file } });
    assert.equal(r.code, 1);
    const line = r.stderr.trim();
    assert.equal(line.split("\n").length, 1, line);
    assert.match(
      line,
      /cannot reach the Skiff server at http:\/\/no-such-host\.invalid:7420 \(from profile "gone" in /,
    );
    assert.match(line, /ENOTFOUND|EAI_AGAIN/);
  });

  it("a token the server does not know (one of another server)", async () => {
    const r = await skiff(["app", "list"], {
      env: { ...env, SKIFF_SERVER_URL: server.url, SKIFF_TOKEN_ID: "tk-fromanotherserver", SKIFF_TOKEN_SECRET: "x" },
    });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^AuthError: the Skiff server at ${server.url.replace(/\./g, "\\.")} \\(from SKIFF_SERVER_URL\\) does not accept token tk-fromanotherserver \\(one of another server, or revoked\\?\\): invalid token`,
      ),
    );
  });
});

describe("Ctrl-C in skiff run", () => {
  const home = scratchDir("ctrlc-home");
  const tmp = join(home, "tmp");
  mkdirSync(tmp);
  const env = { ...bareEnv(home), TMPDIR: tmp };
  const dir = scratchDir("ctrlc");
  const app = writeApp(
    dir,
    "slow.ts",
    `import { App } from "skiff";
export const app = new App("ctrl-c");
export const slow = app.function(async () => {
  console.log("slow started");
  await new Promise((r) => setTimeout(r, 120_000));
  return "finished";
});
app.localEntrypoint(async () => {
  console.log(await slow.remote());
});`,
  );

  /** Starts `skiff run` on the slow app and waits until the function runs in a container. */
  async function startRun() {
    const proc = spawn(process.execPath, [SKIFF_BIN, "run", app], {
      env,
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    proc.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    await waitFor(async () => out.includes("slow started"), `the function to start:\n${out}`, 60_000);
    const containers = containerPids(proc.pid!);
    assert.ok(containers.length > 0, "the embedded server runs a container");
    assert.ok(
      readdirSync(tmp).some((f) => f.startsWith("skiff-embedded-")),
      "the run made its temporary dir",
    );
    return { proc, exited, containers, out: () => out };
  }

  it("stops the app at once and removes everything the run made", async () => {
    const run = await startRun();
    const t0 = performance.now();
    run.proc.kill("SIGINT");
    const code = await run.exited;
    const ms = performance.now() - t0;
    assert.equal(code, 130, run.out());
    assert.ok(ms < 5000, `stopped after ${Math.round(ms)} ms`);
    assert.doesNotMatch(run.out(), /finished/);
    assert.deepEqual(readdirSync(tmp), [], "no temporary directory is left");
    await waitFor(async () => run.containers.every((p) => !alive(p)), "the containers to be gone", 5000);
  });

  it("a second Ctrl-C exits immediately", async () => {
    const run = await startRun();
    run.proc.kill("SIGINT");
    await waitFor(async () => run.out().includes("Ctrl-C again to exit now"), "the first Ctrl-C to be seen");
    run.proc.kill("SIGINT");
    const code = await run.exited;
    assert.equal(code, 130, run.out());
    assert.deepEqual(readdirSync(tmp), [], "the exit hook removed the temporary directories");
    await waitFor(async () => run.containers.every((p) => !alive(p)), "the containers to be gone", 5000);
  });
});
