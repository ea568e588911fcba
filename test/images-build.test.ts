// Image builds: two deploys racing for one layer, a build interrupted by a kill.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  REPO,
  type RunResult,
  type ServerProcess,
  SKIFF_BIN,
  scratchDir,
  skiff,
  startServer,
  waitFor,
} from "./helpers/cli.js";
import { BUILD_MS, cannotBuild, IMAGES, imageApp, keyOf, nonce, notChecked } from "./helpers/images.js";

notChecked("image builds (racing deploys, interrupted builds)");

describe("image builds", { skip: cannotBuild }, () => {
  let server: ServerProcess;
  const deploy = (file: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
    skiff(["deploy", file], { env: { ...server.env, ...env }, timeoutMs: BUILD_MS });

  before(async () => {
    server = await startServer();
  });
  after(() => server?.stop());

  it("two deploys racing for the same layer build it once", { timeout: BUILD_MS }, async () => {
    const n = nonce();
    // The marker is computed by the step, so it is in the step's output, not in its label.
    const image = `Image.debianSlim().runCommands("sleep 2; echo built-$((6*7))-${n}")`;
    const body = "export const f = app.function({ image }, async () => 1);";
    const [a, b] = await Promise.all([
      deploy(imageApp("img-race-a", image, body)),
      deploy(imageApp("img-race-b", image, body)),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ran = [a, b].filter((r) => r.stderr.includes(`built-42-${n}`));
    assert.equal(ran.length, 1, "the step ran (and printed) in one build only");
    assert.match([a, b].find((r) => r !== ran[0])!.stderr, /another deploy is building this layer/);
  });

  it("an interrupted build leaves no layer that looks complete", { timeout: BUILD_MS }, async () => {
    const own = await startServer({ home: scratchDir("img-kill") });
    const file = imageApp(
      "img-kill",
      `Image.debianSlim().runCommands("sleep 300 # ${nonce()}")`,
      "export const f = app.function({ image }, async () => 1);",
    );
    const started = (env: NodeJS.ProcessEnv = own.env): { child: ChildProcess; out: () => string } => {
      const child = spawn(process.execPath, [SKIFF_BIN, "deploy", file], { env, cwd: REPO, stdio: "pipe" });
      let out = "";
      child.stderr!.setEncoding("utf8").on("data", (t: string) => (out += t));
      return { child, out: () => out };
    };
    let d = started();
    try {
      await waitFor(async () => /Building image step 1\/1/.test(d.out()), "the step to start", BUILD_MS);
      const key = keyOf(d.out(), "1/1");
      const pid = own.proc.pid;
      await own.kill();
      d.child.kill("SIGKILL");
      const layers = () => readdirSync(join(IMAGES, "layers")).filter((k) => k.startsWith(key));
      assert.deepEqual(layers(), [], "no layer under the interrupted step's key");
      // The next server sweeps the dead build's scratch space and builds the step afresh.
      const again = await startServer({
        home: own.home,
        dataDir: own.dataDir,
        token: { tokenId: own.tokenId, tokenSecret: own.tokenSecret },
      });
      try {
        const tmp = readdirSync(join(IMAGES, "tmp"));
        assert.ok(!tmp.some((t) => t.startsWith(`${pid}-`)), `swept: ${tmp.join(", ")}`);
        // The restarted server listens on another port: name it (the profile names the first).
        d = started({
          ...own.env,
          SKIFF_SERVER_URL: again.url,
          SKIFF_TOKEN_ID: own.tokenId,
          SKIFF_TOKEN_SECRET: own.tokenSecret,
        });
        await waitFor(async () => /Building image step 1\/1/.test(d.out()), "the step to build again", 60_000).catch(
          (err: Error) => {
            throw new Error(`${err.message}; the deploy printed:\n${d.out()}`);
          },
        );
        assert.equal(keyOf(d.out(), "1/1"), key, "built again, not taken as cached");
        d.child.kill("SIGKILL");
      } finally {
        await again.stop();
      }
      assert.deepEqual(layers(), [], "stopping the server mid-build leaves no layer either");
    } finally {
      d.child.kill("SIGKILL");
    }
  });
});
