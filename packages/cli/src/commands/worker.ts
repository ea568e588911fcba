import { readFileSync } from "node:fs";
import { availableParallelism, homedir, hostname, totalmem } from "node:os";
import { join } from "node:path";
import type { LimitsChoice, SandboxChoice } from "@skiff/worker";
import { type Command, Option } from "commander";
import { withServer } from "../connect.js";
import { UsageError } from "../errors.js";
import { table, ui } from "../output.js";
import { GROUPS, int } from "../program.js";

interface WorkerFlags {
  server?: string;
  tokenFile?: string;
  gpus?: string;
  gpuDevices?: string;
  maxContainers?: string;
  memoryMib?: string;
  name?: string;
  dataDir?: string;
  bundleCacheBytes?: string;
  imageCacheBytes?: string;
  sandbox: SandboxChoice;
  limits: LimitsChoice;
  warmPool?: string;
  localAddress?: string;
}

export function register(program: Command): void {
  const worker = program
    .command("worker")
    .helpGroup(GROUPS.server)
    .summary("join this host to a control plane as a worker (and `worker list`)")
    .description(
      "Joins this host to a control plane as a worker: dials out to --server (no inbound port), runs the containers placed on it in the same sandbox as `skiff server`, relays their connections, and fetches app bundles by content hash into a cache. Reconnects when the control plane restarts or the network comes back. `skiff worker list` (with an admin token) shows the workers of the configured server (docs/deploy/README.md).",
    )
    .option("--server <url>", "the control plane's URL, e.g. https://cp.example:7420")
    .option("--token-file <file>", "a worker token (`skiff token new --worker --output FILE`)")
    .option("--gpus <list>", 'GPUs this host offers: TYPE:COUNT,… e.g. "H100:8"')
    .option(
      "--gpu-devices <paths>",
      "device files handed to GPU containers, comma-separated, * allowed (default: /dev/nvidia*)",
    )
    .option("--max-containers <n>", "containers at once (default: 4 per core)")
    .option("--memory-mib <n>", "memory for containers in MiB (default: 80% of this host's)")
    .option("--name <name>", "this worker's name (default: the host name)")
    .option("--data-dir <dir>", "bundle and image caches, volume copies, relay socket (default: ~/.skiff/worker)")
    .option("--bundle-cache-bytes <n>", "size limit of the bundle cache, least recently used go first (default: 1 GiB)")
    .option(
      "--image-cache-bytes <n>",
      "size limit of the image cache, least recently used go first, never one in use (default: 10 GiB)",
    )
    .addOption(
      new Option("--sandbox <kind>", "how containers are isolated")
        .choices(["auto", "bubblewrap", "none"])
        .default("auto"),
    )
    .addOption(
      new Option("--limits <kind>", "cap each container's memory and processes with cgroups where allowed")
        .choices(["auto", "none"])
        .default("auto"),
    )
    .option("--warm-pool <n>", "container processes started ahead of need (default: 2)")
    .option("--local-address <ip>", "the local address to dial the control plane from")
    .action(workerCommand);
  worker
    .command("list")
    .description("the workers of the configured server: capacity, what runs there, when last heard from")
    .action(() =>
      withServer({}, async (client) => {
        const { workers } = await client.request("worker.list", {});
        if (workers.length === 0) {
          ui.out("no workers have joined (start one with `skiff worker --server URL --token-file FILE`)");
          return;
        }
        const ago = (t: number) => `${Math.max(0, Math.round((Date.now() - t) / 100) / 10)}s ago`;
        ui.out(
          table([
            ["NAME", "STATE", "ADDRESS", "CONTAINERS", "MEMORY MiB", "GPUS", "FUNCTIONS", "LAST HEARD"],
            ...workers.map((w) => [
              w.name,
              w.state,
              w.address,
              `${w.containers}/${w.capacity.maxContainers}`,
              `${w.memoryMiBUsed}/${w.capacity.memoryMiB}`,
              w.capacity.gpus.length
                ? `${w.gpusUsed}/${w.capacity.gpus.map((g) => `${g.type}:${g.count}`).join(",")}`
                : "-",
              w.functions.join(",") || "-",
              ago(w.lastHeardAt),
            ]),
          ]),
        );
      }),
    );
}

/** A worker token file: `tokenId:tokenSecret` on one line. */
export function readTokenFile(file: string): { tokenId: string; tokenSecret: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new UsageError(`cannot read the token file ${file}: ${(err as Error).message}`);
  }
  const i = text.indexOf(":");
  if (i <= 0 || i === text.length - 1 || /\s/.test(text))
    throw new UsageError(
      `${file} is not a worker token file (one line TOKEN_ID:TOKEN_SECRET, as \`skiff token new --worker --output FILE\` writes)`,
    );
  return { tokenId: text.slice(0, i), tokenSecret: text.slice(i + 1) };
}

async function workerCommand(f: WorkerFlags): Promise<void> {
  const { expandDevicePaths, RefusedError, WorkerAgent } = await import("@skiff/worker");
  const { parseGpuAdverts } = await import("@skiff/protocol");
  if (!f.server)
    throw new UsageError("skiff worker needs --server URL (the control plane's, e.g. http://10.0.0.1:7420)");
  if (!/^https?:\/\/[^/]+\/?$/.test(f.server))
    throw new UsageError(`--server must be http(s)://host:port, got ${JSON.stringify(f.server)}`);
  if (!f.tokenFile)
    throw new UsageError("skiff worker needs --token-file FILE (`skiff token new --worker --output FILE`)");
  const token = readTokenFile(f.tokenFile);
  const gpus = f.gpus === undefined ? [] : parseGpuAdverts(f.gpus);
  if (typeof gpus === "string") throw new UsageError(gpus);
  const maxContainers = int("max-containers", f.maxContainers, 1, 100_000) ?? Math.max(4, 4 * availableParallelism());
  const memoryMiB = int("memory-mib", f.memoryMib, 64, 2 ** 30) ?? Math.floor((totalmem() * 0.8) / 1024 / 1024);
  const warmPool = int("warm-pool", f.warmPool, 0, 64);
  const cacheBytes = int("bundle-cache-bytes", f.bundleCacheBytes, 1024 * 1024, 2 ** 44);
  const imageCacheBytes = int("image-cache-bytes", f.imageCacheBytes, 1024 * 1024, 2 ** 50);
  const name = f.name ?? hostname().split(".")[0]!;
  const dataDir = f.dataDir ?? join(process.env.HOME || homedir(), ".skiff", "worker");
  const log = (m: string) => ui.info(`[skiff worker] ${m}`);
  let agent: InstanceType<typeof WorkerAgent>;
  try {
    agent = new WorkerAgent({
      serverUrl: f.server.replace(/\/$/, ""),
      ...token,
      name,
      dataDir,
      maxContainers,
      memoryMiB,
      gpus,
      gpuDevices: gpus.length ? expandDevicePaths(f.gpuDevices) : [],
      sandbox: f.sandbox,
      limits: f.limits,
      hide: [f.tokenFile],
      ...(warmPool !== undefined ? { warmPool } : {}),
      ...(cacheBytes !== undefined ? { bundleCacheBytes: cacheBytes } : {}),
      ...(imageCacheBytes !== undefined ? { imageCacheBytes } : {}),
      ...(f.localAddress ? { localAddress: f.localAddress } : {}),
      log,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const stop = () => agent.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  ui.step(`Skiff worker ${name} dialling ${f.server} (${maxContainers} containers, ${memoryMiB} MiB)`);
  try {
    await agent.run();
  } catch (err) {
    if (err instanceof RefusedError) throw new Error(`the control plane refused this worker: ${err.message}`);
    throw err;
  }
}
