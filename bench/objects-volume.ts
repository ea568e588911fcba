// Volume: write then read back a file (1 GiB by default) from a container, commit included,
// beside `cp` of the same size on the host (then `cat` of the copy), in the same run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Function_ } from "skiff";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const MIB = Number(process.env.BENCH_MIB ?? 1024);
const mbps = (ms: number) => ((MIB * 1.048576) / (ms / 1000)).toFixed(0);

const server = await startSkiffServer();
let s: { writeMs: number; commitMs: number; readMs: number };
try {
  const d = await runCli(["deploy", "bench/apps/volume.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const f = await Function_.lookup<Function_<(mib: number) => Promise<typeof s>>>("bench-volume", "writeRead", {
    client: server.client,
  });
  s = await f.remote(MIB);
} finally {
  await server.stop();
}

const dir = mkdtempSync(join(tmpdir(), "skiff-bench-vol-"));
try {
  execFileSync("dd", ["if=/dev/zero", `of=${join(dir, "src.bin")}`, "bs=1M", `count=${MIB}`, "conv=fsync"], {
    stdio: "ignore",
  });
  let t = performance.now();
  execFileSync("cp", [join(dir, "src.bin"), join(dir, "dst.bin")]);
  execFileSync("sync", [join(dir, "dst.bin")]);
  const cpMs = performance.now() - t;
  t = performance.now();
  execFileSync("sh", ["-c", `cat ${join(dir, "dst.bin")} > /dev/null`]);
  const catMs = performance.now() - t;
  const skiffTotal = s.writeMs + s.commitMs + s.readMs;
  console.log(`objects-volume: ${MIB} MiB written, committed and read back in a container`);
  console.log(
    `  skiff volume  write ${mbps(s.writeMs)} MB/s  commit ${mbps(s.commitMs)} MB/s  read ${mbps(s.readMs)} MB/s  all ${mbps(skiffTotal)} MB/s`,
  );
  console.log(`  host cp       copy ${mbps(cpMs)} MB/s  cat ${mbps(catMs)} MB/s  all ${mbps(cpMs + catMs)} MB/s`);
  console.log(`  ratio skiff/host (all) ${((cpMs + catMs) / skiffTotal).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
