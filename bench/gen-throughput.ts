// remoteGen streaming N small items from a container, beside the same generator iterated in
// this process (`local`), in the same run.
import { Function_ } from "skiff";
import { items as localItems } from "./apps/map.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 1_000_000);
const server = await startSkiffServer();
try {
  const d = await runCli(["deploy", "bench/apps/map.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const gen = await Function_.lookup<Function_<(n: number) => AsyncGenerator<number>>>("bench-map", "items", {
    client: server.client,
  });
  for await (const _ of gen.remoteGen(10_000)) {
  }
  let t = performance.now();
  let n = 0;
  for await (const x of gen.remoteGen(N)) {
    if (x !== n) throw new Error(`item ${n} is ${x}`);
    n++;
  }
  const remote = (n / (performance.now() - t)) * 1000;
  t = performance.now();
  let m = 0;
  for await (const _ of localItems.local(N)) m++;
  const local = (m / (performance.now() - t)) * 1000;
  console.log(`gen-throughput: ${N} items yielded by an async generator`);
  console.log(`  skiff remoteGen (container -> server -> client)  ${Math.round(remote)} items/s   (target: >= 200000)`);
  console.log(
    `  same generator in this process (.local)          ${Math.round(local)} items/s   remote/local ${(remote / local).toFixed(3)}x`,
  );
} finally {
  await server.stop();
}
