import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));

/**
 * A pooled runtime's warm-up and then a container's bundle load, in a process of their own (the
 * warm-up changes process-wide state: the module cache, source maps). Prints what it saw as JSON.
 */
function warmThenLoad(workdir: string): Record<string, unknown> {
  const script = `
    import { existsSync, lstatSync, readdirSync } from "node:fs";
    import { join } from "node:path";
    import { warmBundleLoad } from ${JSON.stringify(join(HERE, "warm-load.ts"))};
    import { loadBundle, skiffPackageDir } from ${JSON.stringify(join(HERE, "load-bundle.ts"))};
    const workdir = process.env.SKIFF_WORKDIR;
    const warmed = await warmBundleLoad();
    const appDir = join(workdir, "skiff-app");
    const left = existsSync(appDir) ? readdirSync(appDir) : [];
    const linked = existsSync(appDir) && lstatSync(join(appDir, "node_modules", "skiff")).isSymbolicLink();
    const out = { warmed, left, linked, sourceMaps: process.sourceMapsEnabled };
    if (warmed) {
      const code = 'import { App } from "skiff"; export const app = new App("real"); export const f = app.function(async (x) => x);';
      const { exports } = await loadBundle(workdir, new TextEncoder().encode(code), skiffPackageDir());
      const { resolveApps, App } = await import("skiff");
      Object.assign(out, {
        apps: resolveApps(exports).map((a) => a.name),
        sameSdk: exports.app instanceof App,
      });
    }
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: { ...process.env, SKIFF_WORKDIR: workdir },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
}

it("a pooled runtime's warm-up prepares the app directory, leaves no probe behind, and the app loads as before", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-warm-"));
  try {
    const seen = warmThenLoad(dir);
    assert.equal(seen.warmed, true, "the probe loaded");
    assert.equal(seen.linked, true, "node_modules/skiff is linked ahead");
    assert.deepEqual(seen.left, ["node_modules"], "the probe module is removed once loaded");
    assert.equal(seen.sourceMaps, true);
    // The app's `skiff` is the runtime's (one SDK instance), and the probe's app is nowhere.
    assert.deepEqual(seen.apps, ["real"]);
    assert.equal(seen.sameSdk, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("a work directory it cannot write to makes the warm-up give up quietly", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-warm-"));
  try {
    const file = join(dir, "not-a-dir");
    writeFileSync(file, "");
    const seen = warmThenLoad(file);
    assert.equal(seen.warmed, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
