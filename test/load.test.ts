// Load: many client processes calling `remote` at once against one server. The test asserts
// what must hold (no errors, every client served, the server's memory bounded); the figures
// (p50, p99, calls/s) are printed as diagnostics and recorded in docs/reliability.md.
// SKIFF_LOAD_CLIENTS and SKIFF_LOAD_MS make it bigger (npm run chaos: 50 clients for 30 s).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { REPO, skiff, startServer } from "./helpers/cli.js";
import { rssKiB } from "./helpers/procs.js";

const CLIENTS = Number(process.env.SKIFF_LOAD_CLIENTS) || 50;
const LOAD_MS = Number(process.env.SKIFF_LOAD_MS) || 10_000;

interface Report {
  calls: number;
  errors: string[];
  errorCount: number;
  latencies: number[];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe("load", () => {
  it(`${CLIENTS} client processes call remote() at once for ${LOAD_MS / 1000} s: no errors, server memory bounded`, async (t) => {
    const server = await startServer();
    const clients: ChildProcess[] = [];
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      const reports: Promise<Report>[] = [];
      const ready: Promise<void>[] = [];
      for (let c = 0; c < CLIENTS; c++) {
        const child = spawn(process.execPath, ["test/fixtures/load-client.mjs"], {
          cwd: REPO,
          env: { ...server.env, LOAD_MS: String(LOAD_MS) },
          stdio: ["pipe", "pipe", "pipe"],
        });
        clients.push(child);
        let stderr = "";
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const lines = createInterface({ input: child.stdout! });
        ready.push(
          new Promise((resolve, reject) => {
            lines.once("line", (l) => (l === "ready" ? resolve() : reject(new Error(`client ${c}: ${l}`))));
            child.once("exit", (code) => reject(new Error(`client ${c} exited (${code}) before ready: ${stderr}`)));
          }),
        );
        reports.push(
          new Promise((resolve, reject) => {
            let last = "";
            lines.on("line", (l) => (last = l));
            // "close": the process exited and its output was all read.
            child.once("close", (code) => {
              if (code !== 0) return reject(new Error(`client ${c} exited with ${code}: ${stderr}`));
              try {
                resolve(JSON.parse(last) as Report);
              } catch {
                reject(new Error(`client ${c} printed no report: ${last} ${stderr}`));
              }
            });
          }),
        );
      }
      await Promise.all(ready);
      const rssBefore = rssKiB(server.proc.pid!);
      let rssMax = rssBefore;
      const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssKiB(server.proc.pid!))), 200);
      const started = performance.now();
      for (const child of clients) child.stdin!.write("go\n");
      const all = await Promise.all(reports);
      const elapsed = (performance.now() - started) / 1000;
      clearInterval(sampler);
      const calls = all.reduce((n, r) => n + r.calls, 0);
      const errors = all.flatMap((r) => r.errors);
      const lat = all.flatMap((r) => r.latencies).sort((a, b) => a - b);
      t.diagnostic(
        `${CLIENTS} clients, ${calls} calls in ${elapsed.toFixed(1)} s (${Math.round(calls / elapsed)}/s), ` +
          `latency p50 ${percentile(lat, 50)} ms, p99 ${percentile(lat, 99)} ms, max ${lat.at(-1)} ms; ` +
          `server RSS ${Math.round(rssBefore / 1024)} MiB before, ${Math.round(rssMax / 1024)} MiB at most`,
      );
      assert.deepEqual(errors, [], `${all.reduce((n, r) => n + r.errorCount, 0)} calls failed`);
      for (const [i, r] of all.entries()) assert.ok(r.calls > 0, `client ${i} made no call`);
      assert.equal(server.proc.exitCode, null);
      assert.ok(rssMax < 1024 * 1024, `server RSS reached ${Math.round(rssMax / 1024)} MiB`);
    } finally {
      for (const c of clients) if (c.exitCode === null) c.kill("SIGKILL");
      await server.stop();
    }
  });
});
