// The app-bundle cache of `skiff run` (bundle-cache.ts): reused only while nothing that could
// change the bundle has changed. Each case changes one thing and expects a new bundle.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleApp } from "./bundle.js";

const root = mkdtempSync(join(tmpdir(), "skiff-bundle-cache-"));
const cache = join(root, "cache");
const saved = process.env.SKIFF_BUNDLE_CACHE_DIR;
before(() => {
  process.env.SKIFF_BUNDLE_CACHE_DIR = cache;
});
after(() => {
  if (saved === undefined) delete process.env.SKIFF_BUNDLE_CACHE_DIR;
  else process.env.SKIFF_BUNDLE_CACHE_DIR = saved;
  rmSync(root, { recursive: true, force: true });
});

const text = (b: { code: Uint8Array }) => Buffer.from(b.code).toString("utf8");
let n = 0;
/** A fresh project folder with app.ts (and what `files` adds), outside any node_modules. */
function project(files: Record<string, string>): string {
  const dir = join(root, `p${++n}`);
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return join(dir, "app.ts");
}

describe("app bundle cache", () => {
  it("gives the same bundle back while nothing changed, from one cache entry", async () => {
    const app = project({ "app.ts": 'export const x = "one";\n' });
    const a = await bundleApp(app, [], { cache: true });
    const b = await bundleApp(app, [], { cache: true });
    assert.equal(b.hash, a.hash);
    assert.deepEqual(b.inputs, a.inputs);
    assert.match(text(b), /"one"/);
    assert.equal(readdirSync(cache).filter((f) => f.endsWith(".js")).length, 1);
  });

  it("bundles again when a file that went in changes", async () => {
    const app = project({
      "app.ts": 'import { y } from "./lib";\nexport const x = y;\n',
      "lib.ts": 'export const y = "before";\n',
    });
    assert.match(text(await bundleApp(app, [], { cache: true })), /"before"/);
    writeFileSync(join(app, "..", "lib.ts"), 'export const y = "after!";\n'); // same folder, new text
    assert.match(text(await bundleApp(app, [], { cache: true })), /"after!"/);
  });

  it("bundles again when a file is edited to the same size and its mtime put back (cp -p, tar)", async () => {
    const app = project({ "app.ts": 'export const x = "before";\n' });
    const then = new Date("2026-01-02T03:04:05Z"); // whole seconds: put back exactly below
    utimesSync(app, then, then);
    assert.match(text(await bundleApp(app, [], { cache: true })), /"before"/);
    writeFileSync(app, 'export const x = "after!";\n');
    utimesSync(app, then, then);
    assert.equal(statSync(app).mtimeMs, then.getTime());
    assert.match(text(await bundleApp(app, [], { cache: true })), /"after!"/);
  });

  it("bundles again when a new file changes what an import resolves to", async () => {
    const app = project({
      "app.ts": 'import { y } from "./lib";\nexport const x = y;\n',
      "lib/index.ts": 'export const y = "folder";\n',
    });
    assert.match(text(await bundleApp(app, [], { cache: true })), /"folder"/);
    writeFileSync(join(app, "..", "lib.ts"), 'export const y = "file";\n'); // ./lib.ts wins over ./lib/
    assert.match(text(await bundleApp(app, [], { cache: true })), /"file"/);
  });

  it("bundles again when a package that was missing (left external) is installed", async () => {
    const app = project({ "app.ts": 'import { z } from "not-yet";\nexport const x = z;\n' });
    const first = await bundleApp(app, [], { cache: true });
    assert.deepEqual(first.packages, []);
    assert.match(text(first), /from "not-yet"/);
    const pkg = join(app, "..", "node_modules", "not-yet");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), '{"name":"not-yet","version":"1.0.0","main":"index.js"}');
    writeFileSync(join(pkg, "index.js"), 'exports.z = "installed";\n');
    const second = await bundleApp(app, [], { cache: true });
    assert.deepEqual(second.packages, ["not-yet"]);
    assert.match(text(second), /"installed"/);
  });

  it("bundles again when a tsconfig.json above the app changes", async () => {
    const app = project({
      "app.ts": 'import { y } from "@lib/y";\nexport const x = y;\n',
      "a/y.ts": 'export const y = "from a";\n',
      "b/y.ts": 'export const y = "from b";\n',
      "tsconfig.json": '{"compilerOptions":{"baseUrl":".","paths":{"@lib/*":["a/*"]}}}',
    });
    assert.match(text(await bundleApp(app, [], { cache: true })), /"from a"/);
    writeFileSync(join(app, "..", "tsconfig.json"), '{"compilerOptions":{"baseUrl":".","paths":{"@lib/*":["b/*"]}}}');
    assert.match(text(await bundleApp(app, [], { cache: true })), /"from b"/);
  });
});
