// A pooled runtime (pool-assignment.ts) warms a WebSocket handshake to itself only while idle:
// one the provider takes while it is still starting (each refill during a burst of starts) is
// told so by an empty line on stdin, and skips that warm-up (~30 ms of CPU beside the
// containers starting). The warm-up listens on a socket, which loads Node's `cluster` module:
// a preload reports, as the runtime exits, whether it was loaded.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const RUNTIME = fileURLToPath(new URL("../packages/worker/dist/runtime/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "skiff-pool-warmup-"));
const preload = join(dir, "report.cjs");
writeFileSync(
  preload,
  `process.on("exit", () => process.stderr.write("warmed=" + process.moduleLoadList.includes("NativeModule cluster") + "\\n"));`,
);
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a pooled runtime, writes `first` on its stdin at once, waits `ms`, ends stdin: did it warm up? */
async function warmed(first: string, ms: number): Promise<boolean> {
  const child = spawn(process.execPath, ["--require", preload, RUNTIME], {
    env: { PATH: process.env.PATH, SKIFF_ASSIGN_VIA_STDIN: "1", SKIFF_POOLED: "1", SKIFF_WORKDIR: dir },
    stdio: ["pipe", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  child.stdin!.write(first);
  await new Promise((r) => setTimeout(r, ms));
  // No assignment: a pooled runtime whose stdin ends leaves (the provider retired it).
  child.stdin!.end();
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 0, err);
  const m = /warmed=(true|false)/.exec(err);
  assert.ok(m, `the runtime reported nothing: ${err}`);
  return m[1] === "true";
}

describe("pooled runtime warm-up", () => {
  it("an idle pooled runtime warms its handshake", async () => {
    assert.equal(await warmed("", 1500), true);
  });

  it("one taken while starting (an empty line first) does not", async () => {
    assert.equal(await warmed("\n", 1500), false);
  });
});
