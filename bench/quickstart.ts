// `skiff run examples/quickstart.ts`, command to exit, with the embedded server it starts
// and stops. Beside `node -e 0` and `node packages/cli/bin/skiff.js --help` in the same run.
//
// The commands run in a user's environment: none of this machine's NODE_* settings. This VM sets
// NODE_EXTRA_CA_CERTS (its registry proxy), and Node reads and parses those certificates at every
// process start: 40-60 ms of CPU on `node -e 0` here, not Skiff's and not what a user pays. Where
// it is set, a second set of runs keeps it, printed beside as what this machine's environment adds.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, SERVER_REPO } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const N = Number(process.env.BENCH_N ?? 10);
const home = mkdtempSync(join(tmpdir(), "skiff-bench-qs-"));
process.on("exit", () => rmSync(home, { recursive: true, force: true }));
const hostEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home, SKIFF_CONFIG_PATH: join(home, "none.toml") };
for (const k of ["SKIFF_SERVER_URL", "SKIFF_TOKEN_ID", "SKIFF_TOKEN_SECRET"]) delete hostEnv[k];
const userEnv = Object.fromEntries(Object.entries(hostEnv).filter(([k]) => !k.startsWith("NODE_")));
const extraCa = process.env.NODE_EXTRA_CA_CERTS;

function time(args: string[], env: NodeJS.ProcessEnv = userEnv): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { env, cwd: REPO, encoding: "utf8" });
  const dt = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`);
  return dt;
}

const bin = join(SERVER_REPO, "packages/cli/bin/skiff.js");
time([bin, "run", "examples/quickstart.ts"]); // warm the file cache
// With the certificates, the runs alternate with plain ones: both see the same load.
const runs: number[] = [];
const caRuns: number[] = [];
for (let i = 0; i < N; i++) {
  runs.push(time([bin, "run", "examples/quickstart.ts"]));
  if (extraCa) caRuns.push(time([bin, "run", "examples/quickstart.ts"], hostEnv));
}
const run = summarize(runs);
const help = summarize(Array.from({ length: N }, () => time([bin, "--help"])));
const node = summarize(Array.from({ length: N }, () => time(["-e", "0"])));
console.log(`quickstart: ${N} runs of \`skiff run examples/quickstart.ts\` (embedded server, sandboxed container)`);
console.log(`  skiff run quickstart       p50 ${ms(run.p50)}  max ${ms(Math.max(run.p99))}   (target: <= 400 ms)`);
console.log(`  skiff --help               p50 ${ms(help.p50)}`);
console.log(`  node -e 0                  p50 ${ms(node.p50)}`);
console.log(`  ratio run / node start     p50 ${(run.p50 / node.p50).toFixed(2)}x`);
if (extraCa) {
  const ca = summarize(caRuns);
  const caNode = summarize(Array.from({ length: N }, () => time(["-e", "0"], hostEnv)));
  console.log(`  this machine's NODE_EXTRA_CA_CERTS kept (${extraCa}), alternating with the runs above:`);
  console.log(`    skiff run quickstart     p50 ${ms(ca.p50)}   node -e 0 p50 ${ms(caNode.p50)}`);
}
