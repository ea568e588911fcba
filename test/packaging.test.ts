// Skiff from npm in a user's own project: the packages packed as npm would publish them,
// installed into a fresh project outside this checkout, then `npx skiff run`, `skiff server`,
// `skiff deploy` and a plain client there. Nothing may come from this checkout at run time.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bareEnv, REPO, runProcess } from "./helpers/cli.js";

const PACKAGES = ["protocol", "skiff", "server", "worker", "cli"];

describe("skiff installed from its packed tarballs into a fresh project", () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "skiff-pack-")));
  const project = join(root, "my-project");
  const home = join(root, "home");
  // npm's cache stays this machine's (the scratch HOME would hide it): dependencies come from it.
  const npmCache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
  const env = { ...bareEnv(home), npm_config_cache: npmCache, npm_config_update_notifier: "false" };
  let server: ChildProcess | undefined;

  before(async () => {
    const packed = await runProcess(
      "npm",
      ["pack", "--pack-destination", root, ...PACKAGES.flatMap((p) => ["-w", `packages/${p}`])],
      { cwd: REPO, timeoutMs: 120_000 },
    );
    assert.equal(packed.code, 0, packed.stderr);
    const tarballs = readdirSync(root).filter((f) => f.endsWith(".tgz"));
    assert.equal(tarballs.length, PACKAGES.length, tarballs.join(", "));
    mkdirSync(project);
    const init = await runProcess("npm", ["init", "-y"], { cwd: project, env });
    assert.equal(init.code, 0, init.stderr);
    // No registry for Skiff itself: its tarballs; its dependencies from npm's cache where this
    // checkout's install left them, else from the registry. Install scripts are skipped and better-sqlite3's native module
    // is taken from this checkout's build of it (same Node, same machine): compiling it again
    // would take minutes and tests nothing of Skiff's.
    const inst = await runProcess(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        ...tarballs.map((t) => join(root, t)),
      ],
      { cwd: project, env, timeoutMs: 170_000 },
    );
    assert.equal(inst.code, 0, inst.stderr);
    cpSync(join(REPO, "node_modules/better-sqlite3/build"), join(project, "node_modules/better-sqlite3/build"), {
      recursive: true,
    });
    writeFileSync(
      join(project, "app.ts"),
      `import { App } from "skiff";
export const app = new App("pack-app");
export const square = app.function(async (x: number) => ({ y: x * x, runtime: process.argv[1] }));
app.localEntrypoint(async () => {
  const r = await square.remote(42);
  console.log("square(42) =", r.y, "runtime", r.runtime);
});
`,
    );
    writeFileSync(
      join(project, "client.mjs"),
      `import { Function_ } from "skiff";
const square = Function_.fromName("pack-app", "square");
console.log("remote", (await square.remote(7)).y);
`,
    );
  });

  after(() => {
    // npx runs the server as its child: kill the whole process group (it was started detached,
    // as its own group), or the server outlives npx and its open pipes keep this file running.
    if (server?.pid !== undefined) {
      try {
        process.kill(-server.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    server?.stdout?.destroy();
    server?.stderr?.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it("installs what the packages declare: versions, licence, README, engines, the SQL files", () => {
    for (const [dir, name] of [
      ["skiff", "skiff"],
      ["@skiff/cli", "@skiff/cli"],
      ["@skiff/server", "@skiff/server"],
      ["@skiff/worker", "@skiff/worker"],
      ["@skiff/protocol", "@skiff/protocol"],
    ]) {
      const base = join(project, "node_modules", dir!);
      const pkg = JSON.parse(readFileSync(join(base, "package.json"), "utf8")) as Record<string, unknown>;
      assert.equal(pkg.name, name);
      assert.equal(pkg.license, "MIT");
      assert.deepEqual(pkg.engines, { node: ">=20.6" });
      assert.match(readFileSync(join(base, "README.md"), "utf8"), /^# /);
      assert.match(readFileSync(join(base, "LICENSE"), "utf8"), /MIT License/);
      assert.ok(!readdirSync(join(base, "dist")).includes(".tsbuildinfo"));
    }
    assert.ok(readdirSync(join(project, "node_modules/@skiff/server/sql/sqlite/migrations")).length > 0);
  });

  it("`npx skiff` runs the bundled command the CLI package ships (dist-bundle, made by its prepack)", async () => {
    const cli = join(project, "node_modules/@skiff/cli");
    assert.ok(readdirSync(join(cli, "dist-bundle")).includes("main.js"));
    const h = await runProcess("npx", ["skiff", "--help"], { cwd: project, env, timeoutMs: 60_000 });
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /^Usage: skiff <command> \[options\]/);
    assert.match(h.stdout, /\n {2}run /);
    // No server configured here: `app list` fails in connect(), and --debug shows where it ran.
    const d = await runProcess("npx", ["skiff", "app", "list", "--debug"], { cwd: project, env, timeoutMs: 60_000 });
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stderr, /node_modules\/@skiff\/cli\/dist-bundle\/[\w-]+\.js/);
  });

  it("`npx skiff run app.ts` runs it, containers started from a copy of the project's node_modules", async () => {
    const r = await runProcess("npx", ["skiff", "run", "app.ts"], { cwd: project, env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const m = /square\(42\) = 1764 runtime (\S+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    // Containers load the bundled runtime the worker package ships (dist/runtime-bundle, made by
    // its prepack) from a read-only copy mounted at /opt/skiff-runtime, made by the CLI that npx
    // ran from the project's node_modules.
    assert.equal(m[1], "/opt/skiff-runtime/main.js");
  });

  it("`skiff server`, `skiff deploy` and a plain client work there", async () => {
    server = spawn("npx", ["skiff", "server", "--port", "0", "--data-dir", join(home, "data")], {
      cwd: project,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    server.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    server.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
      const check = () => {
        if (/listening on http:/.test(out) && /SKIFF_TOKEN_SECRET=\S+\n/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      server!.stdout!.on("data", check);
      server!.stderr!.on("data", check);
      server!.once("exit", (code) => reject(new Error(`server exited (${code}):\n${out}`)));
    });
    const d = await runProcess("npx", ["skiff", "deploy", "app.ts"], { cwd: project, env, timeoutMs: 120_000 });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /App "pack-app" is live at version 1/);
    const c = await runProcess(process.execPath, ["client.mjs"], { cwd: project, env, timeoutMs: 60_000 });
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.trim(), "remote 49");
  });
});
