// detectSandbox remembers that bubblewrap worked (~/.skiff/cache/bwrap-works) so later server
// starts skip the probe; a failure is never remembered, and another bwrap probes again.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { detectSandbox } from "./detect.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-detect-"));
const calls = join(dir, "calls");
const saved = { HOME: process.env.HOME, PATH: process.env.PATH };
before(() => {
  process.env.HOME = join(dir, "home");
  process.env.PATH = join(dir, "bin");
});
after(() => {
  process.env.HOME = saved.HOME;
  process.env.PATH = saved.PATH;
  rmSync(dir, { recursive: true, force: true });
});

/** A fake bwrap that counts its runs and exits with `code` (a working or a broken one). */
function fakeBwrap(code: number, padding = ""): void {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "bwrap"), `#!/bin/sh\necho run >> ${calls}\nexit ${code}\n# ${padding}\n`);
  chmodSync(join(bin, "bwrap"), 0o755);
}
const runs = () => {
  try {
    return readFileSync(calls, "utf8").split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
};

it("probes bubblewrap once, then remembers that it worked; a broken one is probed each time", () => {
  fakeBwrap(0);
  assert.equal(detectSandbox("auto").sandbox.name, "bubblewrap");
  assert.equal(runs(), 1);
  assert.equal(detectSandbox("auto").sandbox.name, "bubblewrap");
  assert.equal(runs(), 1, "the second start did not probe again");
  // Another binary (size and mtime differ): probed again; it fails, and the fallback says why.
  fakeBwrap(1, "a broken build");
  const broken = detectSandbox("auto");
  assert.equal(broken.sandbox.name, "none");
  assert.match(broken.warning ?? "", /bubblewrap is installed but cannot create a sandbox here/);
  assert.equal(runs(), 2);
  assert.equal(detectSandbox("auto").sandbox.name, "none");
  assert.equal(runs(), 3, "a failure is not remembered");
});
