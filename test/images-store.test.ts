// The image store: `skiff image list` and `prune`, and a size limit that evicts, least recently
// used first, the layers no live app uses.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import { type ServerProcess, scratchDir, skiff, startServer } from "./helpers/cli.js";
import { BUILD_MS, cannotBuild, IMAGES, imageApp, keyOf, notChecked } from "./helpers/images.js";

notChecked("the image store (list, prune, eviction)");

describe("image layers: list, prune, a size limit", { skip: cannotBuild }, () => {
  let server: ServerProcess;
  let store: string;
  const files: Record<string, string> = {};

  before(
    async () => {
      // A store of its own (pruning must not touch the suite's), seeded with the shared base's
      // files as hard links (no second mmdebstrap run).
      store = join(scratchDir("img-store"), "images");
      mkdirSync(join(store, "layers"), { recursive: true });
      const probe = imageApp(
        "img-probe",
        "Image.debianSlim()",
        "export const f = app.function({ image }, async () => 1);",
      );
      const shared = await startServer();
      const r = await skiff(["deploy", probe], { env: shared.env, timeoutMs: BUILD_MS });
      await shared.stop();
      const baseKey = /Image step base (?:cached|built) \S*\[([0-9a-f]{12})\]/.exec(r.stderr)?.[1];
      assert.ok(baseKey, r.stderr);
      const full = readdirSync(join(IMAGES, "layers")).find((k) => k.startsWith(baseKey))!;
      execFileSync("cp", ["-al", join(IMAGES, "layers", full), join(store, "layers", full)]);
      const meta = JSON.parse(readFileSync(join(store, "layers", full, "meta.json"), "utf8")) as { bytes: number };
      // Room for the base and one more MiB and a half: the second 1 MiB layer goes over.
      process.env.SKIFF_IMAGE_DIR = store;
      process.env.SKIFF_IMAGE_LIMIT_BYTES = String(meta.bytes + 1.5 * 1024 * 1024);
      try {
        server = await startServer();
      } finally {
        process.env.SKIFF_IMAGE_DIR = IMAGES;
        delete process.env.SKIFF_IMAGE_LIMIT_BYTES;
      }
      const dir = scratchDir("img-store-files");
      for (const n of ["p1", "p2", "p3"]) {
        const f = join(dir, `${n}.bin`);
        writeFileSync(f, randomBytes(1024 * 1024));
        files[n] = imageApp(
          `img-${n}`,
          `Image.debianSlim().addLocalFile(${JSON.stringify(f)}, "/data.bin")`,
          `export const size = app.function({ image }, async () => readFileSync("/data.bin").length);`,
        );
      }
    },
    { timeout: BUILD_MS },
  );
  after(async () => {
    await server?.stop();
    if (store) rmSync(store, { recursive: true, force: true });
  });

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

  it("keeps the layers live apps use past the limit, evicts the least recently used other one, prunes on demand", async () => {
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
