// Images and volumes on worker hosts (api.md §7, §7a): the control plane and two `skiff worker`s
// in their own network namespaces (test/helpers/hosts.ts), the control plane's data and image
// directories hidden from the workers. An image is fetched by a worker as an archive named by
// its hash, verified and cached (a second deploy fetches nothing; a corrupt archive is refused
// and cached nowhere); a volume written and committed on one worker is read on another after
// reload(), large files in parts, and a clean exit commits.
import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "./helpers/cli.js";
import { type Cluster, fakeGpuDevices, makeCluster, netnsAvailable, type Proc, workerToken } from "./helpers/hosts.js";
import { cannotBuild, IMAGES } from "./helpers/images.js";

const why = netnsAvailable() ?? (cannotBuild ? `images cannot be built here: ${cannotBuild}` : undefined);
if (why) console.log(`# NOT CHECKED: images and volumes on workers (${why})`);

const APP = "test/fixtures/workers-objects-app.ts";

/** The JSON a `skiff run FILE::fn` printed. */
function printed(stdout: string): Record<string, unknown> {
  const at = stdout.search(/^[{[]/m);
  assert.ok(at >= 0, `no JSON in:\n${stdout}`);
  return JSON.parse(stdout.slice(at)) as Record<string, unknown>;
}

/** Image layers a worker has in its cache. */
const cached = (dataDir: string) => {
  const d = join(dataDir, "images", "layers");
  return existsSync(d) ? readdirSync(d) : [];
};

describe("images and volumes on worker hosts", { skip: why }, () => {
  let c: Cluster;
  let server: Proc;
  const workers: Proc[] = [];
  const gpu = fakeGpuDevices(2);
  const dataDir = () => join(c.home, "data");
  const imageDir = () => join(c.home, "images");
  const workerDir = (i: number) => join(c.home, `w${i}`);

  before(async () => {
    c = await makeCluster(3);
    // The suite's layers (built once per machine), with archives for workers made in this
    // test's own directory: corrupting one below touches nothing shared.
    mkdirSync(imageDir());
    symlinkSync(realpathSync(join(IMAGES, "layers")), join(imageDir(), "layers"));
    server = c.spawnOn(
      0,
      ["server", "--host", "10.77.0.1", "--port", "7420", "--data-dir", dataDir(), "--no-local-workers"],
      { env: { ...c.env, SKIFF_IMAGE_DIR: imageDir() } },
    );
    await server.waitFor(/listening on/, "server start");
    const tokenFile = join(c.home, "worker.token");
    await workerToken(c, tokenFile);
    const hide = [dataDir(), imageDir(), realpathSync(IMAGES)];
    for (const i of [1, 2]) {
      const args = ["worker", "--server", c.serverUrl, "--token-file", tokenFile, "--name", `w${i}`];
      args.push("--data-dir", workerDir(i), "--max-containers", "4", "--warm-pool", "0");
      if (i === 1) args.push("--gpus", "FakeGPU:2", "--gpu-devices", gpu.paths.join(","));
      workers[i] = c.spawnOn(i, args, { hide });
    }
    await Promise.all([1, 2].map((i) => workers[i]!.waitFor(/joined/, `worker w${i} joined`)));
  });

  after(async () => {
    if (process.env.SKIFF_TEST_DUMP) {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(process.env.SKIFF_TEST_DUMP, [server, ...workers].map((p) => p?.output()).join("\n---\n"));
    }
    await c?.destroy();
    const { rmSync } = await import("node:fs");
    rmSync(gpu.dir, { recursive: true, force: true });
  });

  it("runs a function in its image on a worker that fetched it, and a second deploy hits the worker's cache", async () => {
    assert.deepEqual(cached(workerDir(2)), [], "the worker has no image before");
    const d = await c.skiffOn(0, ["deploy", APP], { timeoutMs: 120_000 });
    assert.equal(d.code, 0, d.stderr);
    assert.doesNotMatch(d.stderr, /warning/, "no warning: workers run images");
    const seen: Record<string, unknown>[] = [];
    for (let i = 0; i < 2; i++) {
      if (i > 0) {
        // Stopped, so the second deploy starts new containers (the same code would reuse them).
        const stop = await c.skiffOn(0, ["app", "stop", "workers-objects-app"]);
        assert.equal(stop.code, 0, stop.stderr);
        const again = await c.skiffOn(0, ["deploy", APP], { timeoutMs: 120_000 });
        assert.equal(again.code, 0, again.stderr);
      }
      const r = await c.skiffOn(0, ["run", `${APP}::look`], { timeoutMs: 120_000 });
      assert.equal(r.code, 0, `${r.stderr}\n${server.output().slice(-2000)}`);
      seen.push(printed(r.stdout));
    }
    for (const s of seen) {
      assert.equal(s.jq, "2", "jq from the image's apt step");
      assert.equal(s.greeting, "from the image");
      assert.match(String(s.debian), /^12\./);
      assert.equal(s.host, "10.77.0.3", "on w2 (a worker), not the control plane");
    }
    assert.notEqual(seen[0]!.container, seen[1]!.container, "a new container the second time");
    assert.equal(cached(workerDir(2)).length, 1, "the image is in w2's cache");
    const fetched = workers[2]!.output().match(/fetched image [0-9a-f]{12}/g) ?? [];
    assert.equal(fetched.length, 1, `w2 fetched the image once:\n${workers[2]!.output()}`);
    assert.equal((server.output().match(/archived for workers/g) ?? []).length, 1);
  });

  it("commits a volume on one worker and reads it on another after reload; a clean exit commits", async () => {
    const r = await c.skiffOn(0, ["run", APP], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `${r.stderr}\n${server.output().slice(-2000)}`);
    const m = /RESULT (.*)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const out = JSON.parse(m[1]!) as {
      first: { before: string | null; after: string | null; container: string; host: string };
      wrote: { host: string };
      second: { before: string | null; after: string | null; bigSha: string; container: string; host: string };
      left: { host: string };
      bigHash: string;
    };
    assert.equal(out.wrote.host, "10.77.0.2", "written on w1");
    assert.equal(out.second.host, "10.77.0.3", "read on w2");
    assert.equal(out.first.after, null);
    assert.equal(out.second.after, "written on worker A", "reload() brought the commit");
    assert.equal(out.second.bigSha, out.bigHash, "a 9 MiB file, in parts, intact");
    if (out.second.container === out.first.container)
      assert.equal(out.second.before, null, "the same copy before reload() did not see it");
    // The clean exit at the end of the run committed the file never committed by hand.
    const ls = await waitFor(async () => {
      const x = await c.skiffOn(0, ["volume", "ls", "wo-data"]);
      assert.equal(x.code, 0, x.stderr);
      return /left\.txt/.test(x.stdout) && x.stdout;
    }, "the exit commit");
    assert.match(ls, /note\.txt/);
    const get = await c.skiffOn(0, ["volume", "get", "wo-data", "left.txt", "-"]);
    assert.equal(get.stdout, "committed on exit");
  });

  it("refuses a corrupt image archive on the worker: clear error, no container, nothing cached", async () => {
    // The control plane's archive damaged (as a bad disk would): cut to its first MiB and
    // flipped there, still advertised under its hash (the size recorded to match, so the
    // worker's download is short).
    const exports = join(imageDir(), "exports");
    const tar = readdirSync(exports).find((n) => n.endsWith(".tar") && !n.startsWith("."));
    assert.ok(tar, "the archive made for w2");
    const meta = join(exports, tar.replace(/\.tar$/, ".json"));
    const { archive } = JSON.parse(readFileSync(meta, "utf8")) as { archive: string };
    truncateSync(join(exports, tar), 1024 * 1024);
    const fd = openSync(join(exports, tar), "r+");
    writeSync(fd, Buffer.alloc(16, 0xee), 0, 16, 4096);
    closeSync(fd);
    writeFileSync(meta, JSON.stringify({ archive, size: 1024 * 1024 }));
    const before = cached(workerDir(1));
    assert.deepEqual(before, []);
    const run = c.spawnOn(0, ["run", `${APP}::lookGpu`]);
    try {
      await server.waitFor(
        new RegExp(
          `starting a container for workers-objects-app\\.lookGpu failed: worker w1: image archive ${archive.slice(0, 12)}… arrived with the wrong content`,
        ),
        "the worker's refusal",
        60_000,
      );
      assert.deepEqual(cached(workerDir(1)), [], "nothing cached");
      assert.doesNotMatch(workers[1]!.output(), /fetched image/);
    } finally {
      await run.stop();
    }
  });
});
