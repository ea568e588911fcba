// `skiff run examples/quickstart.ts`, command to exit, with the embedded server it starts
// and stops. Beside `node -e 0` and `node packages/cli/bin/skiff.js --help` in the same run.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, SERVER_REPO } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const N = Number(process.env.BENCH_N ?? 10);
const home = mkdtempSync(join(tmpdir(), "skiff-bench-qs-"));
process.on("exit", () => rmSync(home, { recursive: true, force: true }));
const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, SKIFF_CONFIG_PATH: join(home, "none.toml") };
for (const k of ["SKIFF_SERVER_URL", "SKIFF_TOKEN_ID", "SKIFF_TOKEN_SECRET"]) delete env[k];

function time(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { env, cwd: REPO, encoding: "utf8" });
  const dt = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`);
  return dt;
}

const bin = join(SERVER_REPO, "packages/cli/bin/skiff.js");
time([bin, "run", "examples/quickstart.ts"]); // warm the file cache
const run = summarize(Array.from({ length: N }, () => time([bin, "run", "examples/quickstart.ts"])));
const help = summarize(Array.from({ length: N }, () => time([bin, "--help"])));
const node = summarize(Array.from({ length: N }, () => time(["-e", "0"])));
console.log(`quickstart: ${N} runs of \`skiff run examples/quickstart.ts\` (embedded server, sandboxed container)`);
console.log(`  skiff run quickstart       p50 ${ms(run.p50)}  max ${ms(Math.max(run.p99))}   (target: <= 400 ms)`);
console.log(`  skiff --help               p50 ${ms(help.p50)}`);
console.log(`  node -e 0                  p50 ${ms(node.p50)}`);
console.log(`  ratio run / node start     p50 ${(run.p50 / node.p50).toFixed(2)}x`);
