// Images (api.md §1a): built by the real builder (mmdebstrap, bubblewrap), run as the container's
// read-only root, cached as layers. One base layer is shared by the whole suite (.skiff-cache/
// images, kept between runs): the first run on a machine builds it once (minutes).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { probeBuildTools } from "@skiff/worker";
import { Function_ } from "skiff";
import {
  REPO,
  type RunResult,
  type ServerProcess,
  SKIFF_BIN,
  scratchDir,
  skiff,
  startServer,
  waitFor,
  writeApp,
} from "./helpers/cli.js";
import { gradientPng } from "./helpers/png.js";

const IMAGES = join(REPO, ".skiff-cache", "images");
process.env.SKIFF_IMAGE_DIR = IMAGES;
const cannot = (() => {
  const t = probeBuildTools();
  return typeof t === "string" ? t : undefined;
})();
if (cannot) console.log(`NOT CHECKED: images (build and run) on this machine: ${cannot}`);

/** Deploys take minutes when the base layer is not built yet. */
const BUILD_MS = 20 * 60_000;
const nonce = () => randomBytes(6).toString("hex");
const dir = scratchDir("images");

function app(name: string, image: string, body: string): string {
  return writeApp(
    dir,
    `${name}-${nonce()}.ts`,
    `import { App, Image } from "skiff";
import { existsSync, readFileSync } from "node:fs";
const image = ${image};
export const app = new App(${JSON.stringify(name)});
${body}
`,
  );
}

/** Image steps as the CLI printed them: "1/3 cached", "2/3 built". */
function stepStates(stderr: string): string[] {
  return [...stderr.matchAll(/Image step (\S+) (cached|built)/g)].map((m) => `${m[1]} ${m[2]}`);
}

function keyOf(stderr: string, step: string): string {
  const m = new RegExp(`Building image step ${step.replace("/", "\\/")}: .*\\[([0-9a-f]{12})\\]`).exec(stderr);
  assert.ok(m, `no build line for step ${step} in:\n${stderr}`);
  return m[1]!;
}

describe("images", { skip: cannot }, () => {
  let server: ServerProcess;
  const deploy = (file: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
    skiff(["deploy", file], { env: { ...server.env, ...env }, timeoutMs: BUILD_MS });

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
    await assert.rejects(fn<(v: unknown) => Promise<number>>("parse").remote({ n: "x" }), /Expected number/);
    assert.equal(await fn<(j: string) => Promise<string>>("jq").remote('{"a": [1, 2]}'), "[1,2]", "jq from apt");

    const hostHostname = readFileSync("/etc/hostname", "utf8");
    const seen = (await fn<(p: string[]) => Promise<Record<string, unknown>>>("look").remote([
      REPO,
      server.home,
      server.dataDir,
      "/opt/skiff/rt/test",
      "/opt/skiff/rt/packages/cli/src",
    ])) as { env: string; exists: Record<string, boolean>; hostname: string; asset: string; debian: string };
    assert.equal(seen.env, "from the image", "env() reaches the function");
    assert.notEqual(seen.hostname, hostHostname, "the host's /etc/hostname is not the image's");
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

  it("rebuilds a changed step and those after it only; images never share containers", async () => {
    const n = nonce();
    const img = (v: string) =>
      `Image.debianSlim().runCommands("echo ${n} > /one").env({ V: "${v}" }).runCommands("echo $V > /two")`;
    const body = `export const two = app.function({ image }, async () => [readFileSync("/two", "utf8").trim(), existsSync("/srv/assets")]);`;
    const first = await deploy(app("img-change", img("1"), body));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(stepStates(first.stderr), ["base cached", "1/3 built", "2/3 built", "3/3 built"]);
    const second = await deploy(app("img-change", img("2"), body));
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(stepStates(second.stderr), ["base cached", "1/3 cached", "2/3 built", "3/3 built"]);
    const two = Function_.fromName<Function_<() => Promise<[string, boolean]>>>("img-change", "two", {
      client: server.client(),
    });
    assert.deepEqual(await two.remote(), ["2", false], "the new image, not image-app's");
  });

  it("forceBuild rebuilds a cached step every deploy, and SKIFF_FORCE_BUILD=1 every step but the base", async () => {
    const file = app(
      "img-force",
      `Image.debianSlim().runCommands("echo fixed > /fixed").runCommands("cat /proc/sys/kernel/random/uuid > /stamp", { forceBuild: true })`,
      `export const stamp = app.function({ image }, async () => readFileSync("/stamp", "utf8").trim());`,
    );
    const stamp = () =>
      Function_.fromName<Function_<() => Promise<string>>>("img-force", "stamp", { client: server.client() }).remote();
    const a = await deploy(file);
    assert.equal(a.code, 0, a.stderr);
    const s1 = await stamp();
    const b = await deploy(file);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(stepStates(b.stderr), ["base cached", "1/2 cached", "2/2 built"]);
    const s2 = await stamp();
    assert.notEqual(s1, s2, "the forced step ran again");
    const c = await deploy(file, { SKIFF_FORCE_BUILD: "1" });
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(stepStates(c.stderr), ["base cached", "1/2 built", "2/2 built"]);
  });

  it("two deploys racing for the same layer build it once", async () => {
    const n = nonce();
    const image = `Image.debianSlim().runCommands("sleep 2; echo built-${n}")`;
    const body = `export const f = app.function({ image }, async () => 1);`;
    const [a, b] = await Promise.all([deploy(app("img-race-a", image, body)), deploy(app("img-race-b", image, body))]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ran = [a, b].filter((r) => r.stderr.includes(`built-${n}`));
    assert.equal(ran.length, 1, "the step ran (and printed) in one build only");
    assert.match([a, b].find((r) => !r.stderr.includes(`built-${n}`))!.stderr, /another deploy is building this layer/);
  });

  describe("bad input: a clear error naming the step, and the app is not published", () => {
    const name = "img-bad";
    const body = (v: string) => `export const version = app.function(async () => "${v}");`;
    const version = () =>
      Function_.fromName<Function_<() => Promise<string>>>(name, "version", { client: server.client() }).remote();
    const bad = (image: string) =>
      app(name, image, `${body("v2")}\nexport const useIt = app.function({ image }, async () => 1);`);

    before(async () => {
      const r = await deploy(app(name, "undefined", body("v1")));
      assert.equal(r.code, 0, r.stderr);
    });
    const failsNaming = async (file: string, ...patterns: RegExp[]) => {
      const r = await deploy(file);
      assert.notEqual(r.code, 0, r.stderr);
      for (const p of patterns) assert.match(r.stderr, p);
      assert.equal(await version(), "v1", "the previous version keeps serving");
    };

    it("an unknown apt package", () =>
      failsNaming(
        bad(`Image.debianSlim().aptInstall("skiff-no-such-package")`),
        /Image step 1 \(aptInstall skiff-no-such-package\) failed with exit status 100/,
        /Unable to locate package skiff-no-such-package/,
      ));
    it("a failing npm install", () =>
      failsNaming(
        bad(`Image.debianSlim().npmInstall("skiff-no-such-package-${nonce()}@1.0.0")`),
        /Image step 1 \(npmInstall skiff-no-such-package-\S+\) failed with exit status 1/,
        /404/,
      ));
    it("a command exiting non-zero", () =>
      failsNaming(
        bad(`Image.debianSlim().runCommands("echo boom-${name}; exit 7")`),
        /Image step 1 \(runCommands .*\) failed with exit status 7/,
        /boom-img-bad/,
      ));
    it("a local path that does not exist", () =>
      failsNaming(
        bad(`Image.debianSlim().addLocalDir("./no-such-dir", "/srv/x")`),
        /Image step 1 \(addLocalDir \.\/no-such-dir -> \/srv\/x\): the local path "\.\/no-such-dir" does not exist/,
      ));
    it("a relative remote path", () =>
      failsNaming(
        bad(`Image.debianSlim().env({ A: "1" }).addLocalFile("package.json", "app/package.json")`),
        /Image step 2 \(addLocalFile "package.json" -> "app\/package.json"\): the image path must be absolute/,
      ));
    it("env values that are not strings", () =>
      failsNaming(
        bad(`Image.debianSlim().env({ N: 3 as unknown as string })`),
        /Image step 1 \(env\): N must be a string, got number/,
      ));
  });

  it("an interrupted build leaves no layer that looks complete", async () => {
    const own = await startServer({ home: scratchDir("img-kill") });
    const n = nonce();
    const file = app(
      "img-kill",
      `Image.debianSlim().runCommands("sleep 300 # ${n}")`,
      `export const f = app.function({ image }, async () => 1);`,
    );
    const started = (): { child: ChildProcess; out: () => string } => {
      const child = spawn(process.execPath, [SKIFF_BIN, "deploy", file], { env: own.env, cwd: REPO, stdio: "pipe" });
      let out = "";
      child.stderr!.setEncoding("utf8").on("data", (t: string) => (out += t));
      return { child, out: () => out };
    };
    let d = started();
    try {
      await waitFor(async () => /Building image step 1\/1/.test(d.out()), "the step to start", BUILD_MS);
      const key = keyOf(d.out(), "1/1");
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
        assert.ok(!tmp.some((t) => t.startsWith(`${own.proc.pid}-`)), `swept: ${tmp.join(", ")}`);
        d = started();
        await waitFor(async () => /Building image step 1\/1/.test(d.out()), "the step to build again", 60_000);
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

  it("fails a deploy at once, naming what is missing, where images cannot be built", async () => {
    // A PATH with every program of this host but mmdebstrap.
    const bin = scratchDir("img-nobuild-bin");
    for (const d of ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) {
        if (f === "mmdebstrap" || existsSync(join(bin, f))) continue;
        symlinkSync(join(d, f), join(bin, f));
      }
    }
    const home = scratchDir("img-nobuild");
    const prevPath = process.env.PATH;
    process.env.PATH = bin;
    let own: ServerProcess;
    try {
      own = await startServer({ home });
    } finally {
      process.env.PATH = prevPath;
    }
    try {
      const t0 = Date.now();
      const r = await skiff(["deploy", "test/fixtures/image-app.ts"], { env: own.env, timeoutMs: 60_000 });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /images cannot be built here: missing mmdebstrap \(apt-get install mmdebstrap\)/);
      assert.ok(Date.now() - t0 < 30_000, "at once, not after a build");
    } finally {
      await own.stop();
    }
  });
});

describe("image layers: list, prune, and a size limit that evicts what no live app uses", { skip: cannot }, () => {
  let server: ServerProcess;
  let store: string;
  const files: Record<string, string> = {};

  before(
    async () => {
      // A store of its own (pruning must not touch the suite's), seeded with the shared base's
      // files as hard links (no second mmdebstrap run).
      store = join(scratchDir("img-store"), "images");
      mkdirSync(join(store, "layers"), { recursive: true });
      const probe = app("img-probe", "Image.debianSlim()", "export const f = app.function({ image }, async () => 1);");
      const shared = await startServer();
      const r = await skiff(["deploy", probe], { env: shared.env, timeoutMs: BUILD_MS });
      await shared.stop();
      const baseKey = /Image step base (?:cached|built) \S*\[([0-9a-f]{12})\]/.exec(r.stderr)?.[1];
      assert.ok(baseKey, r.stderr);
      const full = readdirSync(join(IMAGES, "layers")).find((k) => k.startsWith(baseKey))!;
      const { execFileSync } = await import("node:child_process");
      execFileSync("cp", ["-al", join(IMAGES, "layers", full), join(store, "layers", full)]);
      const baseBytes = (
        JSON.parse(readFileSync(join(store, "layers", full, "meta.json"), "utf8")) as { bytes: number }
      ).bytes;
      process.env.SKIFF_IMAGE_DIR = store;
      process.env.SKIFF_IMAGE_LIMIT_BYTES = String(baseBytes + 1.5 * 1024 * 1024);
      try {
        server = await startServer();
      } finally {
        process.env.SKIFF_IMAGE_DIR = IMAGES;
        delete process.env.SKIFF_IMAGE_LIMIT_BYTES;
      }
      for (const n of ["p1", "p2", "p3"]) {
        const f = join(dir, `${n}-${nonce()}.bin`);
        writeFileSync(f, randomBytes(1024 * 1024));
        files[n] = app(
          `img-${n}`,
          `Image.debianSlim().addLocalFile(${JSON.stringify(f)}, "/data.bin")`,
          `export const size = app.function({ image }, async () => readFileSync("/data.bin").length);`,
        );
      }
    },
    { timeout: BUILD_MS },
  );
  after(() => server?.stop());

  const list = async () => {
    const r = await skiff(["image", "list"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const deploy = async (n: string) => {
    const r = await skiff(["deploy", files[n]!], { env: server.env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    return keyOf(r.stderr, "1/1");
  };

  it("keeps layers live apps use past the limit, evicts the least recently used other one, prunes on demand", async () => {
    const k1 = await deploy("p1");
    const k2 = await deploy("p2");
    let out = await list();
    assert.match(out, new RegExp(`${k1}\\s+addLocalFile .*img-p1`), out);
    assert.match(out, new RegExp(`${k2}\\s+addLocalFile .*img-p2`), out);
    assert.match(out, /base debian-slim \(bookworm\).*img-p1,img-p2/, "the base is used by both");
    assert.equal((await skiff(["app", "stop", "img-p1"], { env: server.env })).code, 0);
    const k3 = await deploy("p3");
    out = await list();
    assert.doesNotMatch(out, new RegExp(k1), "p1's layer (no live app) was evicted to stay under the limit");
    assert.match(out, new RegExp(k2));
    assert.match(out, new RegExp(k3));
    assert.equal((await skiff(["app", "stop", "img-p2"], { env: server.env })).code, 0);
    const pruned = await skiff(["image", "prune"], { env: server.env });
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stderr, /Removed 1 layer\(s\)/);
    out = await list();
    assert.doesNotMatch(out, new RegExp(k2));
    assert.match(out, new RegExp(`${k3}.*img-p3`));
    const size = Function_.fromName<Function_<() => Promise<number>>>("img-p3", "size", { client: server.client() });
    assert.equal(await size.remote(), 1024 * 1024);
  });
});
