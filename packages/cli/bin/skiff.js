#!/usr/bin/env node
import { existsSync, readFileSync, statSync } from "node:fs";

// The bundled command (scripts/bundle-cli.mjs) where it is there and no older than what it was
// made from (tsc's .tsbuildinfo of each package in it); otherwise the module graph tsc wrote
// (slower to start, same code). A checkout where `tsc -b` ran after the bundle was made would
// otherwise run yesterday's CLI. An installed package's bundle was made by its own prepack:
// not checked there. SKIFF_CLI_UNBUNDLED=1 runs the module graph.
function entry() {
  const dir = new URL("../dist-bundle/", import.meta.url);
  const manifest = new URL("stamps.json", dir);
  if (process.env.SKIFF_CLI_UNBUNDLED === "1" || !existsSync(manifest)) return "../dist/main.js";
  if (dir.pathname.includes("/node_modules/")) return "../dist-bundle/main.js";
  const built = statSync(manifest).mtimeMs;
  for (const rel of JSON.parse(readFileSync(manifest, "utf8"))) {
    const st = statSync(new URL(rel, dir), { throwIfNoEntry: false });
    if (st && st.mtimeMs > built) return "../dist/main.js";
  }
  return "../dist-bundle/main.js";
}

// SKIFF_TRACE=1: the process's start and the CLI's code loaded (see @skiff/protocol trace.ts).
const trace =
  process.env.SKIFF_TRACE === "1"
    ? (label) => process.stderr.write(`[trace ${(performance.timeOrigin + performance.now()).toFixed(1)}] ${label}\n`)
    : () => {};
if (process.env.SKIFF_TRACE === "1")
  process.stderr.write(`[trace ${performance.timeOrigin.toFixed(1)}] process start\n`);
const { main } = await import(entry());
trace("cli loaded");
process.on("exit", () => trace("exit"));
main(process.argv.slice(2)).then(
  (code) => {
    trace("command done");
    process.exitCode = code;
    // Interrupted and cleaned up: code of the app still pending here (timers) must not keep
    // the process alive.
    if (code === 130) process.exit();
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
