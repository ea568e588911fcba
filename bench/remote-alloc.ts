// Bytes the server allocates per warm `.remote` (young garbage included: what its scavenges
// cost), by function, from V8's sampling heap profiler through the server's inspector. Not a
// timing: it holds on a loaded machine. SKIFF_BENCH_REPO=<checkout> measures another build.
//   BENCH_SANDBOX=none node --import tsx bench/remote-alloc.ts
// Knobs: BENCH_N calls sampled (3000), TOP lines (40), PARENT=1 to split by caller,
// BENCH_ALLOC_OF=container: the function's container instead (needs BENCH_SANDBOX=none).
import { Function_ } from "skiff";
import WebSocket from "ws";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const N = Number(process.env.BENCH_N ?? 3000);
const PORT = 9339;
const OF = process.env.BENCH_ALLOC_OF === "container" ? "container" : "server";
const flags = OF === "container" ? "SKIFF_CONTAINER_NODE_ARGS" : "SKIFF_SERVER_NODE_ARGS";
process.env[flags] = `${process.env[flags] ?? ""} --inspect=127.0.0.1:${PORT}`;
const server = await startSkiffServer();
try {
  const d = await runCli(["deploy", "bench/apps/trivial.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const square = await Function_.lookup<Function_<(x: number) => Promise<number>>>("bench", "square", {
    client: server.client,
  });
  for (let i = 0; i < 1500; i++) await square.remote(i); // warm: JIT, maps and pools settled
  const list = (await (await fetch(`http://127.0.0.1:${PORT}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  await new Promise((r) => ws.once("open", r));
  let lastId = 0;
  const pending = new Map<number, (v: Record<string, unknown>) => void>();
  ws.on("message", (m) => {
    const x = JSON.parse(String(m)) as { id?: number; result?: Record<string, unknown> };
    if (x.id !== undefined) pending.get(x.id)?.(x.result ?? {});
  });
  const send = (method: string, params: object = {}) =>
    new Promise<Record<string, unknown>>((r) => {
      pending.set(++lastId, r);
      ws.send(JSON.stringify({ id: lastId, method, params }));
    });
  await send("HeapProfiler.enable");
  await send("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  });
  for (let i = 0; i < N; i++) await square.remote(i);
  const { profile } = (await send("HeapProfiler.stopSampling")) as { profile: { head: ProfileNode } };
  ws.close();
  const bytes = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode, caller: string) => {
    const f = n.callFrame;
    const name = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber}`;
    if (n.selfSize) {
      const k = process.env.PARENT ? `${name} < ${caller}` : name;
      bytes.set(k, (bytes.get(k) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c, name);
  };
  walk(profile.head, "");
  console.log(`${OF}: ${(total / N).toFixed(0)} bytes allocated per warm .remote (sampled, ${N} calls)`);
  for (const [k, v] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40)))
    console.log(`  ${(v / N).toFixed(0).padStart(6)} B  ${k}`);
} finally {
  await server.stop();
}
