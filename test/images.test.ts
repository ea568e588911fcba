// Images (api.md §1a): functions run in an image built by the real builder (mmdebstrap,
// bubblewrap), as the container's read-only root; layers are cached and shared.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Cls, Function_ } from "skiff";
import type * as ImageApp from "./fixtures/image-app.js";
import { REPO, type RunResult, type ServerProcess, skiff, startServer } from "./helpers/cli.js";
import { BUILD_MS, cannotBuild, IMAGES, imageApp, nonce, notChecked, stepStates } from "./helpers/images.js";
import { gradientPng } from "./helpers/png.js";

notChecked("running functions in images");

describe("images: running in them, caching them", { skip: cannotBuild }, () => {
  let server: ServerProcess;
  const deploy = (file: string): Promise<RunResult> =>
    skiff(["deploy", file], { env: server.env, timeoutMs: BUILD_MS });

  before(async () => {
    server = await startServer();
  });
  after(() => server?.stop());

  it("runs functions in their image: npm packages (a native addon, a pure-JS one), apt programs, local files; nothing of the host", {
    timeout: BUILD_MS,
  }, async () => {
    const r = await deploy("test/fixtures/image-app.ts");
    assert.equal(r.code, 0, r.stderr);
    // Each step shows its key and whether it was cached.
    assert.match(r.stderr, /Image step base (cached|built).*\[[0-9a-f]{12}\]/);
    assert.match(r.stderr, /Image step 4\/4 (cached|built)/);
    const client = server.client();
    const fn = <F extends (...a: never[]) => Promise<unknown>>(name: string) =>
      Function_.fromName<Function_<F>>("image-app", name, { client });

    const resized = await fn<(png: Uint8Array) => Promise<{ width: number; height: number }>>("resize").remote(
      gradientPng(64, 32),
    );
    assert.deepEqual(resized, { width: 4, height: 2 }, "sharp (native, from npm binaries) resized a real PNG");
    assert.equal(await fn<(v: unknown) => Promise<number>>("parse").remote({ n: 21 }), 42, "zod (pure JS)");
    // The image's zod 3 (not the checkout's zod 4): its message, not zod 4's "Invalid input".
    await assert.rejects(
      fn<(v: unknown) => Promise<number>>("parse").remote({ n: "x" }),
      /Expected number, received string/,
    );
    assert.equal(await fn<(j: string) => Promise<string>>("jq").remote('{"a": [1, 2]}'), "[1,2]", "jq from apt");
    const Tool = await Cls.lookup<typeof ImageApp.Tool>("image-app", "Tool", { client });
    assert.equal(await Tool.instance().jqVersion.remote(), "jq-1.6", "@app.cls({ image }) runs in the image too");

    const seen = (await fn<(p: string[]) => Promise<unknown>>("look").remote([
      REPO,
      server.home,
      server.dataDir,
      "/opt/skiff/rt/test",
      "/opt/skiff/rt/packages/cli/src",
    ])) as {
      env: string;
      exists: Record<string, boolean>;
      hostname: string;
      asset: string;
      debian: string;
      uid: number;
      capEff: string;
    };
    // Not root in its image: a root server runs it as nobody, with no capabilities left.
    assert.notEqual(seen.uid, 0, "a function with an image runs as root");
    assert.equal(seen.capEff, "0000000000000000");
    if (process.getuid!() === 0) assert.equal(seen.uid, 65534, "a root server runs image containers as nobody");
    assert.equal(seen.env, "from the image", "env() reaches the function");
    assert.notEqual(seen.hostname, readFileSync("/etc/hostname", "utf8"), "not the host's /etc/hostname");
    assert.equal(seen.hostname.trim(), "skiff");
    assert.deepEqual(
      seen.exists,
      {
        [REPO]: false,
        [server.home]: false,
        [server.dataDir]: false,
        "/opt/skiff/rt/test": false,
        "/opt/skiff/rt/packages/cli/src": false,
      },
      "neither the project, the server's home nor its data are visible",
    );
    assert.match(seen.asset, /<title>One<\/title>/, "addLocalDir's files are in the image");
    assert.match(seen.debian, /^12\./, "Debian stable");
  });

  it("runs the scraper example from the README (an HTML parser from npm, pages carried by addLocalDir, mapped)", {
    timeout: BUILD_MS,
  }, async () => {
    const r = await skiff(["run", "examples/scraper/app.ts"], { env: server.env, timeoutMs: BUILD_MS });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^index\.html \(Skiff harbour\): boats\.html tides\.html https:\/\/example\.org\/charts$/m);
    assert.match(r.stdout, /^boats\.html \(Boats\): boats\/skiff\.html boats\/dinghy\.html index\.html$/m);
    assert.match(r.stdout, /^tides\.html \(Tides\): index\.html$/m);
  });

  it("stores layers as hard links to their parent's files, not copies", () => {
    const layers = readdirSync(join(IMAGES, "layers"));
    const inodes = new Set<number>();
    for (const k of layers) {
      const ls = join(IMAGES, "layers", k, "root", "usr/bin/ls");
      if (existsSync(ls)) inodes.add(statSync(ls).ino);
    }
    assert.ok(layers.length >= 4, `layers: ${layers.length}`);
    assert.equal(inodes.size, 1, "every layer's /usr/bin/ls is one file on disk");
  });

  it("redeploys an unchanged image building nothing", async () => {
    const r = await deploy("test/fixtures/image-app.ts");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(stepStates(r.stderr), ["base cached", "1/4 cached", "2/4 cached", "3/4 cached", "4/4 cached"]);
    assert.match(r.stderr, /0 of 5 layer\(s\) built/);
    assert.doesNotMatch(r.stderr, /Building image step/);
  });

  it("rebuilds a changed step and those after it only; images never share containers", {
    timeout: BUILD_MS,
  }, async () => {
    const n = nonce();
    const img = (v: string) =>
      `Image.debianSlim().runCommands("echo ${n} > /one").env({ V: "${v}" }).runCommands("echo $V > /two")`;
    const body = `export const two = app.function({ image }, async () => [readFileSync("/two", "utf8").trim(), existsSync("/srv/assets")]);`;
    const first = await deploy(imageApp("img-change", img("1"), body));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(stepStates(first.stderr), ["base cached", "1/3 built", "2/3 built", "3/3 built"]);
    const second = await deploy(imageApp("img-change", img("2"), body));
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(stepStates(second.stderr), ["base cached", "1/3 cached", "2/3 built", "3/3 built"]);
    const two = Function_.fromName<Function_<() => Promise<[string, boolean]>>>("img-change", "two", {
      client: server.client(),
    });
    assert.deepEqual(await two.remote(), ["2", false], "the new image, not image-app's");
  });
});
