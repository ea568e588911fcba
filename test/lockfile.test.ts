// The committed lockfile is one `npm ci` accepts on every platform: npm 10 and 11 refuse a
// lockfile that lacks a platform package another machine would resolve (biome's, esbuild's
// binaries), so each optional dependency must be locked. Checked here without a network.
// After a change to dependencies: `npm install` (npm 11 writes all platforms' packages), then
// in a scratch copy (`git archive HEAD | tar -x -C DIR`) `npm ci` and `npx -y npm@10 ci`, and
// `npm install` must leave the lockfile byte-identical.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO } from "./helpers/cli.js";

interface LockEntry {
  version?: string;
  link?: boolean;
  resolved?: string;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/**
 * Optional packages no registry has, so no lockfile can hold them and npm skips them
 * everywhere: cbor-extract 2.2.3 names platform packages at 2.2.3, never published (2.2.2 is
 * the last). Only the name is listed: a newer cbor-extract must be locked like any other.
 */
const UNPUBLISHED = new Set(
  ["darwin-arm64", "darwin-x64", "linux-arm", "linux-arm64", "linux-x64", "win32-x64"].map(
    (p) => `cbor-extract@2.2.3 -> @cbor-extract/cbor-extract-${p}`,
  ),
);

const lock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
};

/** Where node (and npm) would find `dep` from the package at `path`: nearest node_modules up. */
function resolveIn(path: string, dep: string): LockEntry | undefined {
  for (let dir = path; ; ) {
    const hit = lock.packages[`${dir ? `${dir}/` : ""}node_modules/${dep}`];
    if (hit) return hit.link ? lock.packages[hit.resolved ?? ""] : hit;
    if (!dir) return undefined;
    const i = dir.lastIndexOf("/node_modules/");
    dir = i >= 0 ? dir.slice(0, i) : "";
  }
}

describe("package-lock.json", () => {
  it("locks every platform's optional packages", () => {
    assert.equal(lock.lockfileVersion, 3);
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
      for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
        if (resolveIn(path, dep)) continue;
        const key = `${name}@${entry.version} -> ${dep}`;
        if (!UNPUBLISHED.has(key)) missing.push(key);
      }
    }
    assert.deepEqual(
      missing,
      [],
      "regenerate the lockfile so it lists other platforms' packages (see the test's header)",
    );
    for (const bin of [
      "@biomejs/cli-darwin-arm64",
      "@biomejs/cli-win32-x64",
      "@esbuild/darwin-arm64",
      "@esbuild/win32-x64",
    ])
      assert.ok(lock.packages[`node_modules/${bin}`], `${bin} is locked`);
  });

  it("pins what each workspace package.json declares", () => {
    for (const path of Object.keys(lock.packages)) {
      if (path !== "" && !/^packages\/[^/]+$/.test(path)) continue;
      const pkg = JSON.parse(readFileSync(join(REPO, path, "package.json"), "utf8")) as LockEntry & {
        devDependencies?: Record<string, string>;
      };
      for (const [dep, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
        assert.match(range, /^\d+\.\d+\.\d+$/, `${path || "root"}: ${dep} is pinned to an exact version`);
        const locked = resolveIn(path, dep);
        assert.equal(locked?.version, range, `${path || "root"}: ${dep}@${range} is what the lockfile holds`);
      }
    }
  });
});
