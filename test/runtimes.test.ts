// The client on every runtime api.md promises, each for real against a real server with
// runtimes-app deployed: Bun and Deno (the installed package, and a portable bundle), a browser
// page in Debian's Chromium, and a Cloudflare Worker bundled by wrangler and run by workerd.
// Also: esbuild bundles the package for the browser and for neutral with no flags and no
// warnings, and a runtime with no WebSocket fails at once. The runtimes come from npm, pinned
// in test/runtimes/package-lock.json and installed once into .skiff-cache (helpers/runtimes.ts).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { REPO, runProcess, type ServerProcess, scratchDir, skiff, startServer, waitFor } from "./helpers/cli.js";
import { freePort } from "./helpers/procs.js";
import { ensureRuntimes, type Runtimes } from "./helpers/runtimes.js";

const CHROMIUM = "/usr/bin/chromium";
const DIR = join(REPO, "test", "runtimes");
const EXPECTED = { remote: 49, map: [1, 4, 9], spawned: 81, lazy: 25 };
const skip =
  process.platform === "linux" && process.arch === "x64" ? false : "NOT CHECKED: runtimes pinned for linux x64";

/** Bundles `entry` as a user's bundler would, with no options beyond the platform. */
async function bundle(entry: string, platform: "browser" | "neutral", outfile?: string) {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    platform,
    format: "esm",
    write: Boolean(outfile),
    ...(outfile ? { outfile } : { outdir: "/nonexistent" }),
    logLevel: "silent",
    absWorkingDir: REPO,
  });
  return r;
}

/** The result a script printed on its last line, checked against what the calls must return. */
function checkCalls(out: string, where: string): void {
  const last = out.trim().split("\n").at(-1) ?? "";
  let got: Record<string, unknown>;
  try {
    got = JSON.parse(last) as Record<string, unknown>;
  } catch {
    assert.fail(`${where}: no result printed: ${out}`);
  }
  assert.match(String(got.callId), /^fc-[0-9a-f]{24}$/, where);
  delete got.callId;
  assert.deepEqual(got, EXPECTED, where);
}

describe("the client on other runtimes", { skip }, () => {
  let rt: Runtimes;
  let server: ServerProcess;
  let work: string;
  let config: string;
  let portable: string;

  // The first run installs the runtimes (about 150 MB to download): minutes on a slow network.
  before(
    async () => {
      rt = ensureRuntimes();
      server = await startServer();
      const d = await skiff(["deploy", "test/fixtures/runtimes-app.ts"], { env: server.env });
      assert.equal(d.code, 0, d.stderr);
      work = scratchDir("runtimes");
      config = JSON.stringify({
        serverUrl: server.url,
        tokenId: server.tokenId,
        tokenSecret: server.tokenSecret,
        environment: "main",
      });
      // A portable bundle: what a user ships to Deno Deploy, a browser or an edge runtime.
      portable = join(work, "explicit.bundle.mjs");
      const r = await bundle(join(DIR, "explicit.mjs"), "neutral", portable);
      assert.deepEqual([r.errors, r.warnings], [[], []]);
    },
    { timeout: 600_000 },
  );
  after(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("esbuild bundles skiff for the browser and for neutral with no flags and no warnings, and no Node built-in", async () => {
    const entry = join(work, "everything.mjs");
    writeFileSync(entry, 'import * as skiff from "skiff";\nglobalThis.skiff = skiff;\n');
    for (const platform of ["browser", "neutral"] as const) {
      const r = await bundle(entry, platform);
      assert.deepEqual(r.errors, [], platform);
      assert.deepEqual(r.warnings, [], platform);
      const text = r.outputFiles?.[0]?.text ?? "";
      assert.match(text, /static fromEnv\(/, platform);
      assert.doesNotMatch(
        text,
        /(?:from|import|import\(|require\()\s*["'](?:node:[\w/]+|ws)["']|class WebSocketServer/,
        `${platform}: a Node built-in or ws in the bundle`,
      );
    }
  });

  it("Node 20 has no WebSocket: the portable bundle fails at once with one line; Node 22 runs it and the package", async () => {
    const t0 = performance.now();
    const r = await runProcess(process.execPath, [portable, config], { timeoutMs: 30_000 });
    const ms = performance.now() - t0;
    if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function") {
      // On Node 22 and later the bundle takes Node's own WebSocket.
      assert.equal(r.code, 0, r.stderr);
      return checkCalls(r.stdout, "node (own WebSocket)");
    }
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr.trim(), /^NotSupportedError: this runtime has no WebSocket .*: run on Node 22 or later/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(ms < 3000, `failed after ${Math.round(ms)} ms`);
    // Node 22 runs the same bundle with its own WebSocket, and the installed package with ws.
    const r22 = await runProcess(rt.node22, [portable, config], { timeoutMs: 30_000 });
    assert.equal(r22.code, 0, r22.stderr);
    checkCalls(r22.stdout, "node 22 (own WebSocket)");
    const pkg22 = await runProcess(rt.node22, [join(DIR, "from-env.mjs")], { env: server.env, timeoutMs: 30_000 });
    assert.equal(pkg22.code, 0, pkg22.stderr);
    checkCalls(pkg22.stdout, "node 22, installed package");
  });

  it("Bun: the installed package (ws, the profile, exits by itself) and a bundle (Bun's own WebSocket)", async () => {
    const pkg = await runProcess(rt.bun, [join(DIR, "from-env.mjs")], { env: server.env, timeoutMs: 30_000 });
    assert.equal(pkg.code, 0, pkg.stderr);
    checkCalls(pkg.stdout, "bun, installed package");
    const bundled = await runProcess(rt.bun, [portable, config], { env: server.env, timeoutMs: 30_000 });
    assert.equal(bundled.code, 0, bundled.stderr);
    checkCalls(bundled.stdout, "bun, bundle");
  });

  it("Deno: the installed package, and a bundle allowed nothing but the server's address", async () => {
    const deno = (args: string[]) =>
      runProcess(rt.deno, ["run", "--quiet", "--no-prompt", ...args], {
        env: { ...server.env, DENO_DIR: join(work, "deno"), NO_COLOR: "1" },
        timeoutMs: 60_000,
      });
    const pkg = await deno(["--allow-all", join(DIR, "from-env.mjs")]);
    assert.equal(pkg.code, 0, pkg.stderr);
    checkCalls(pkg.stdout, "deno, installed package");
    // No environment, no file system: explicit configuration and Deno's own WebSocket.
    const host = new URL(server.url).host;
    const bundled = await deno([`--allow-net=${host}`, portable, config]);
    assert.equal(bundled.code, 0, bundled.stderr);
    checkCalls(bundled.stdout, "deno, bundle");
  });

  it("a browser page calls functions (Client.setDefault, the page's WebSocket)", {
    skip: existsSync(CHROMIUM) ? false : `NOT CHECKED: no ${CHROMIUM}`,
  }, async () => {
    const page = join(work, "page.bundle.js");
    const r = await bundle(join(DIR, "page.mjs"), "browser", page);
    assert.deepEqual([r.errors, r.warnings], [[], []]);
    const files: Record<string, [string, string]> = {
      "/": ["text/html", '<!doctype html><div id="out"></div><script type="module" src="/page.js"></script>'],
      "/page.js": ["text/javascript", readFileSync(page, "utf8")],
    };
    const http: Server = createServer((req, res) => {
      const f = files[req.url ?? ""];
      res.writeHead(f ? 200 : 404, { "content-type": f?.[0] ?? "text/plain" }).end(f?.[1] ?? "");
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on("pageerror", (e) => errors.push(e.message));
      const { port } = http.address() as { port: number };
      await tab.goto(`http://127.0.0.1:${port}/#${encodeURIComponent(config)}`);
      const out = tab.locator("#out[data-done]");
      await out.waitFor({ state: "attached", timeout: 30_000 });
      assert.deepEqual(errors, []);
      assert.equal(await out.getAttribute("data-error"), null);
      checkCalls((await out.getAttribute("data-result")) ?? "", "chromium");
    } finally {
      await browser.close();
      http.close();
    }
  });

  describe("a Cloudflare Worker under workerd", () => {
    let workerd: ChildProcess | undefined;
    let url = "";
    let log = "";
    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(30_000) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    before(async () => {
      // wrangler bundles the Worker as it would deploy it (dry run: nothing leaves the machine).
      const dir = join(work, "worker");
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, "wrangler.toml"),
        `name = "skiff-runtimes-test"\nmain = "${join(DIR, "worker.mjs")}"\ncompatibility_date = "2025-09-01"\n`,
      );
      const w = await runProcess(rt.node22, [rt.wrangler, "deploy", "--dry-run", "--outdir", "out"], {
        cwd: dir,
        env: { ...server.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", HOME: join(work, "home") },
        timeoutMs: 120_000,
      });
      assert.equal(w.code, 0, w.stdout + w.stderr);
      assert.doesNotMatch(w.stdout + w.stderr, /WARNING|ERROR|▲|✘/, "wrangler warned while bundling");
      assert.match(w.stdout, /--dry-run: exiting now/);
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      const text = (name: string, value: string) => `(name = "${name}", text = ${JSON.stringify(value)})`;
      writeFileSync(
        join(dir, "out", "config.capnp"),
        `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The default outbound service, widened to reach the test server on loopback.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-09-01",
  bindings = [${[
    text("SKIFF_SERVER_URL", server.url),
    text("SKIFF_TOKEN_ID", server.tokenId),
    text("SKIFF_TOKEN_SECRET", server.tokenSecret),
  ].join(", ")}],
);
`,
      );
      workerd = spawn(rt.workerd, ["serve", "config.capnp"], {
        cwd: join(dir, "out"),
        stdio: ["ignore", "pipe", "pipe"],
      });
      workerd.stdout!.setEncoding("utf8").on("data", (d: string) => (log += d));
      workerd.stderr!.setEncoding("utf8").on("data", (d: string) => (log += d));
      await waitFor(
        () =>
          fetch(url).then(
            () => true,
            () => false,
          ),
        `workerd on ${url}\n${log}`,
      );
    });
    after(() => workerd?.kill("SIGKILL"));

    /** WebSocket peers of the server: containers, and clients still connected. */
    const sockets = async () => {
      const res = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${server.tokenId}:${server.tokenSecret}` },
      });
      const m = /skiff_connections\{kind="websocket"\} (\d+)/.exec(await res.text());
      assert.ok(m, "no skiff_connections in /metrics");
      return Number(m[1]);
    };

    it("calls functions with Client.fromEnv(env), request after request, leaving no connection open", async () => {
      await get("/calls?client=env"); // containers started
      const before = await sockets();
      for (let i = 0; i < 6; i++) {
        const r = await get("/calls?client=env");
        assert.equal(r.status, 200, `${JSON.stringify(r.body)}\n${log}`);
        checkCalls(JSON.stringify(r.body), `workerd, request ${i + 1}`);
      }
      // workerd never closes a request's socket itself: each would stay open for the isolate's life.
      const grew = (await sockets()) - before;
      assert.ok(grew < 3, `${grew} more connections after 6 requests`);
    });

    it("a client kept across requests opens a connection per request instead of hanging", async () => {
      const before = await sockets();
      for (let i = 0; i < 6; i++) {
        const r = await get("/calls?client=shared");
        assert.equal(r.status, 200, `${JSON.stringify(r.body)}\n${log}`);
        checkCalls(JSON.stringify(r.body), `workerd, shared client, request ${i + 1}`);
      }
      const grew = (await sockets()) - before;
      assert.ok(grew < 3, `${grew} more connections after 6 requests`);
    });

    it("a client in use by another request is a clear error at once; a client per request is not", async () => {
      const slow = get("/slow?client=shared&ms=3000");
      await new Promise((r) => setTimeout(r, 500));
      const t0 = performance.now();
      const clash = await get("/calls?client=shared");
      assert.ok(performance.now() - t0 < 2000, `answered after ${Math.round(performance.now() - t0)} ms`);
      assert.equal(clash.status, 500);
      assert.match(
        String(clash.body.error),
        /^NotSupportedError: this Client is in use by another request of this Worker, .*make the client in the request handler/,
      );
      const own = await get("/calls?client=env");
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.deepEqual((await slow).body, { slow: 3000 });
    });
  });
});
