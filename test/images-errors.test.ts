// Bad image input: each a clear error naming the step, and the app is not published (the
// previous version keeps serving). And a host that cannot build: a deploy fails at once.
import assert from "node:assert/strict";
import { existsSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import { type RunResult, type ServerProcess, scratchDir, skiff, startServer } from "./helpers/cli.js";
import { BUILD_MS, cannotBuild, imageApp, nonce, notChecked } from "./helpers/images.js";

notChecked("errors of image builds");

describe("bad image input: a clear error naming the step, and the app is not published", { skip: cannotBuild }, () => {
  let server: ServerProcess;
  const name = "img-bad";
  const body = (v: string) => `export const version = app.function(async () => "${v}");`;
  const version = () =>
    Function_.fromName<Function_<() => Promise<string>>>(name, "version", { client: server.client() }).remote();
  const bad = (image: string) =>
    imageApp(name, image, `${body("v2")}\nexport const useIt = app.function({ image }, async () => 1);`);

  before(async () => {
    server = await startServer();
    const r = await skiff(["deploy", imageApp(name, "undefined", body("v1"))], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => server?.stop());

  const failsNaming = async (file: string, ...patterns: RegExp[]): Promise<void> => {
    const r: RunResult = await skiff(["deploy", file], { env: server.env, timeoutMs: BUILD_MS });
    assert.notEqual(r.code, 0, r.stderr);
    for (const p of patterns) assert.match(r.stderr, p);
    assert.equal(await version(), "v1", "the previous version keeps serving");
  };

  it("an unknown apt package", { timeout: BUILD_MS }, () =>
    failsNaming(
      bad(`Image.debianSlim().aptInstall("skiff-no-such-package")`),
      /Image step 1 \(aptInstall skiff-no-such-package\) failed with exit status 100/,
      /Unable to locate package skiff-no-such-package/,
    ),
  );
  it("a failing npm install", { timeout: BUILD_MS }, () =>
    failsNaming(
      bad(`Image.debianSlim().npmInstall("skiff-no-such-package-${nonce()}@1.0.0")`),
      /Image step 1 \(npmInstall skiff-no-such-package-\S+\) failed with exit status 1/,
      /404/,
    ),
  );
  it("a command exiting non-zero", { timeout: BUILD_MS }, () =>
    failsNaming(
      bad(`Image.debianSlim().runCommands("echo boom-$((6*7)); exit 7")`),
      /Image step 1 \(runCommands .*\) failed with exit status 7/,
      /boom-42/,
    ),
  );
  it("a local path that does not exist", () =>
    failsNaming(
      bad(`Image.debianSlim().addLocalDir("./no-such-dir", "/srv/x")`),
      /Image step 1 \(addLocalDir \.\/no-such-dir -> \/srv\/x\): the local path "\.\/no-such-dir" does not exist/,
    ));
  it("a relative remote path", () =>
    failsNaming(
      bad(`Image.debianSlim().env({ A: "1" }).addLocalFile("app.json", "app/app.json")`),
      /Image step 2 \(addLocalFile "app.json" -> "app\/app.json"\): the image path must be absolute/,
    ));
  it("env values that are not strings", () =>
    failsNaming(
      bad(`Image.debianSlim().env({ N: 3 as unknown as string })`),
      /Image step 1 \(env\): N must be a string, got number/,
    ));
});

describe("a host that cannot build images", () => {
  it("fails a deploy at once, naming what is missing", async () => {
    // A PATH with every program of this host but mmdebstrap.
    const bin = scratchDir("img-nobuild-bin");
    for (const d of ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) {
        if (f === "mmdebstrap" || existsSync(join(bin, f))) continue;
        symlinkSync(join(d, f), join(bin, f));
      }
    }
    const prevPath = process.env.PATH;
    process.env.PATH = bin;
    let own: ServerProcess;
    try {
      own = await startServer({ home: scratchDir("img-nobuild") });
    } finally {
      process.env.PATH = prevPath;
    }
    try {
      const t0 = Date.now();
      const r = await skiff(["deploy", "test/fixtures/image-app.ts"], { env: own.env, timeoutMs: 60_000 });
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        process.platform === "linux" ? /missing mmdebstrap \(apt-get install mmdebstrap\)/ : /images need Linux/,
      );
      assert.ok(Date.now() - t0 < 30_000, "at once, not after a build");
    } finally {
      await own.stop();
    }
  });
});

describe("a package only an image has, imported at the top level", () => {
  it("fails where the app is loaded, naming the package and the way out", async () => {
    const file = imageApp(
      "img-toplevel",
      `Image.debianSlim().npmInstall("skiff-only-in-image-${nonce()}")`,
      `import pkg from "skiff-no-such-package-here";\nexport const f = app.function({ image }, async () => pkg);`,
    );
    const r = await skiff(["deploy", file], { env: { ...process.env, SKIFF_SERVER_URL: "http://127.0.0.1:9" } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /imports "skiff-no-such-package-here" at the top level, and it is not installed here; .*import it inside the function: const m = await import\("skiff-no-such-package-here"\)/,
    );
  });
});
