// What the container runtime's bundle may load at start: each import there is paid by every
// container start.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { REPO } from "./helpers/cli.js";

describe("the runtime bundle", () => {
  it("loads node:http by require, not by a static import (which loads undici on Node 22+)", () => {
    // On a Node 22+ host an ES module import of node:http builds its facade, reading the lazy
    // http.WebSocket export: ~35 ms of CPU in every container start (bench/RESULTS.md).
    const dir = join(REPO, "packages/worker/dist/runtime-bundle");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js"));
    assert.ok(files.length > 0, "the runtime bundle is built (scripts/test.sh builds it)");
    const offenders = files.filter((f) => /\bfrom\s*"(node:)?http"/.test(readFileSync(join(dir, f), "utf8")));
    assert.deepEqual(offenders, []);
  });
});
