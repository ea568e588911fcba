// A/B on a shared machine: runs one benchmark against another checkout's build (the baseline,
// e.g. main) and this one, alternating rounds, so both see the same load; prints each round's
// figures and the median ratio.
//   node --import tsx bench/ab.ts <baseline checkout> <bench script> <regex with one number group>...
// e.g. bench/ab.ts /work/wt/base bench/map-defaults.ts 'default options \(maxInputs 1\)\s+(\d+)'
// The baseline's server, runtime and CLI run (SKIFF_BENCH_REPO, bench/lib/skiff-server.ts);
// the bench script, its apps and the client are this checkout's. BENCH_AB_ROUNDS: rounds (3).
import { spawnSync } from "node:child_process";
import { REPO } from "./lib/skiff-server.js";

const [base, script, ...patterns] = process.argv.slice(2);
if (!base || !script || patterns.length === 0) {
  console.error("usage: bench/ab.ts <baseline checkout> <bench script> <regex with one number group>...");
  process.exit(2);
}
const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 3);
const res = patterns.map((p) => new RegExp(p));
const figures: Record<"base" | "this", number[][]> = { base: res.map(() => []), this: res.map(() => []) };

function runOnce(side: "base" | "this"): void {
  const env = { ...process.env };
  if (side === "base") env.SKIFF_BENCH_REPO = base;
  else delete env.SKIFF_BENCH_REPO;
  const r = spawnSync(process.execPath, ["--import", "tsx", script!], { cwd: REPO, env, encoding: "utf8" });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) {
    console.log(`[${side}] failed (${r.status}):\n${out}`);
    return;
  }
  res.forEach((re, i) => {
    const m = re.exec(out);
    if (m) figures[side][i]!.push(Number(m[1]));
  });
  console.log(`[${side}] ${out.trim().split("\n").join(`\n[${side}] `)}`);
}

for (let r = 0; r < rounds; r++) {
  // Alternate which side goes first, so neither always runs on the warmer machine.
  const order: ("base" | "this")[] = r % 2 === 0 ? ["base", "this"] : ["this", "base"];
  for (const side of order) runOnce(side);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(`ab: ${script}, ${rounds} alternating rounds, baseline ${base}`);
patterns.forEach((p, i) => {
  const b = median(figures.base[i]!);
  const t = median(figures.this[i]!);
  console.log(
    `  /${p}/  baseline ${b} (${figures.base[i]!.join(", ")})  this ${t} (${figures.this[i]!.join(", ")})  this/baseline ${(t / b).toFixed(2)}x`,
  );
});
