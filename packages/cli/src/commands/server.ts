import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ConnectionLimits } from "@skiff/server";
import type { LimitsChoice, SandboxChoice } from "@skiff/worker";
import { type Command, Option } from "commander";
import { activeProfile, configPath, readProfiles, writeProfile } from "skiff";
import { UsageError } from "../errors.js";
import { ui } from "../output.js";
import { GROUPS, int } from "../program.js";

/** The server's default port (its DEFAULT_PORT; not imported, so `skiff --help` loads no server). */
const DEFAULT_PORT = 7420;

export function register(program: Command): void {
  const cmd = program
    .command("server")
    .helpGroup(GROUPS.server)
    .summary("run the control plane (embedded store or Postgres, local containers)")
    .description(
      "Runs the control plane with local containers. Its state lives in the embedded store (SQLite in the data directory) unless --store (or SKIFF_STORE_URL) names a Postgres database (docs/operations.md); blobs (large payloads, bundles) are files under <data dir>/blobs either way. The first start creates an admin token, prints it once, and writes a profile for this server into ~/.skiff.toml (SKIFF_CONFIG_PATH) when no profile targets it yet.",
    )
    .option(
      "--store <url>",
      'where the state lives: "sqlite" (default) or postgres://user:password@host:port/database (also SKIFF_STORE_URL)',
    )
    .option(
      "--log-max-bytes <n>",
      "log text kept per app: its newest 10000 lines, at most this many bytes (default: 67108864)",
    )
    .option("--host <address>", "the address to listen on", "127.0.0.1")
    .option("--port <n>", `the port to listen on (0: any free one) (default: ${DEFAULT_PORT})`)
    .option("--data-dir <dir>", "where the store and app bundles live (default: ~/.skiff/data)")
    .option("--result-retention-ms <n>", "how long results are kept (default: 604800000, 7 days)")
    .addOption(
      new Option("--sandbox <kind>", "how containers are isolated")
        .choices(["auto", "bubblewrap", "none"])
        .default("auto"),
    )
    .option(
      "--warm-pool <n>",
      "container processes started ahead of need, so a scale-up only loads the app (default: 2)",
    )
    .option(
      "--web-wait-ms <n>",
      "how long a web request waits for its response head before a 303 to a result URL (default: 150000)",
    )
    .option("--web-max-body-bytes <n>", "larger web request bodies get 413 (default: 67108864)")
    .option(
      "--max-resident-spawns <n>",
      "pending .spawn calls each function holds in memory; more wait in the store (default: 10000)",
    )
    .option(
      "--instance-idle-ms <n>",
      "a class instance with no calls and no containers for this long leaves memory (default: 300000)",
    )
    .addOption(
      new Option(
        "--limits <kind>",
        "cap each container's memory and process count with cgroups where this host allows (docs/security.md)",
      )
        .choices(["auto", "none"])
        .default("auto"),
    )
    .option(
      "--object-limits <NAME=N,...>",
      "Dict and Queue limits and lifetimes (docs/objects.md): queueMaxItems, queueMaxItemBytes, queueMaxPartitions, queuePartitionTtlMs, dictMaxValueBytes, dictIdleTtlMs",
    )
    .option(
      "--shutdown-grace-ms <n>",
      "on SIGTERM, how long running inputs may take to finish before the server exits; a second SIGTERM exits at once (default: 30000)",
    )
    .option("--tmp-size-mib <n>", "size of each container's /tmp, counted against its memory (default: 512)")
    .option("--tls-cert <file>", "serve HTTPS/WSS with this certificate (PEM); needs --tls-key")
    .option("--tls-key <file>", "the certificate's private key (PEM)")
    .option("--metrics-public", "serve /metrics without a token (for a scraper on a trusted network)");
  // What one client may hold of the server (docs/security.md).
  for (const [flag, , , , help] of CONNECTION_FLAGS) cmd.option(`--${flag} <n>`, help);
  cmd
    .option("--no-local-workers", "run no containers on this host: only on workers that join (`skiff worker`)")
    .option(
      "--max-containers <n>",
      "containers this host runs at once, across all functions, warm-pool processes included; more wait, their inputs queued (default: as many as --memory-mib holds at 32 MiB each)",
    )
    .option(
      "--memory-mib <n>",
      "memory for containers on this host in MiB: a container counts its memoryMiB, or what it is measured to use without one; past it new containers wait (default: 80% of this host's)",
    )
    .option(
      "--placement-timeout-ms <n>",
      "how long a container waits for a worker that fits (GPU type, capacity) before its calls fail (default: 600000)",
    )
    .addHelpText(
      "after",
      "\nWeb endpoints are served on the same port (docs/web.md), and so is the dashboard: open the server's URL and sign in with a token; Prometheus metrics are at /metrics (docs/dashboard.md).",
    )
    .action(serverCommand);
}

/** Flags of the connection limits: flag, option, smallest and largest value, help. */
const CONNECTION_FLAGS: [string, keyof ConnectionLimits, number, number, string][] = [
  [
    "max-queued-bytes",
    "maxQueuedBytes",
    1024 * 1024,
    2 ** 40,
    "a connection with more bytes queued for it is closed (default: 134217728)",
  ],
  [
    "stalled-connection-ms",
    "stallMs",
    100,
    24 * 3600 * 1000,
    "a connection that takes none of its queued bytes for this long is closed (default: 60000)",
  ],
  ["hello-timeout-ms", "helloTimeoutMs", 100, 600_000, "an API WebSocket must authenticate by then (default: 5000)"],
  [
    "max-api-connections",
    "maxApiConnections",
    1,
    1_000_000,
    "authenticated API connections; more are refused (default: 4096)",
  ],
  [
    "max-unauthenticated",
    "maxUnauthenticated",
    1,
    1_000_000,
    "idle or unauthenticated sockets; past it the oldest of the busiest address is closed (default: 2048)",
  ],
  ["max-per-address", "maxPerAddress", 1, 1_000_000, "sockets from one address; more are refused (default: 512)"],
  ["max-web-requests", "maxWebRequests", 1, 1_000_000, "HTTP requests in flight; more get 503 (default: 4096)"],
  [
    "max-web-sockets",
    "maxWebSockets",
    1,
    1_000_000,
    "web endpoints' WebSockets open at once; more get 503 (default: 1024)",
  ],
  ["headers-timeout-ms", "headersTimeoutMs", 100, 600_000, "time to send a request's headers (default: 10000)"],
  [
    "request-timeout-ms",
    "requestTimeoutMs",
    100,
    24 * 3600 * 1000,
    "time to send a whole request, body included (default: 300000)",
  ],
  [
    "keep-alive-timeout-ms",
    "keepAliveTimeoutMs",
    100,
    600_000,
    "an idle keep-alive socket is closed after (default: 5000)",
  ],
];

function readPem(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

interface ServerFlags {
  host: string;
  port?: string;
  dataDir?: string;
  resultRetentionMs?: string;
  sandbox: SandboxChoice;
  warmPool?: string;
  webWaitMs?: string;
  webMaxBodyBytes?: string;
  maxResidentSpawns?: string;
  instanceIdleMs?: string;
  limits: LimitsChoice;
  tmpSizeMib?: string;
  tlsCert?: string;
  tlsKey?: string;
  metricsPublic?: boolean;
  objectLimits?: string;
  store?: string;
  logMaxBytes?: string;
  localWorkers: boolean;
  placementTimeoutMs?: string;
  shutdownGraceMs?: string;
  maxContainers?: string;
  memoryMib?: string;
}

async function serverCommand(values: ServerFlags): Promise<void> {
  const port = int("port", values.port, 0, 65535) ?? DEFAULT_PORT;
  const retention = int("result-retention-ms", values.resultRetentionMs, 1000, 365 * 24 * 3600 * 1000);
  const warmPool = int("warm-pool", values.warmPool, 0, 64);
  const webWaitMs = int("web-wait-ms", values.webWaitMs, 1, 24 * 3600 * 1000);
  const webMaxBodyBytes = int("web-max-body-bytes", values.webMaxBodyBytes, 0, 2 ** 40);
  const maxResidentSpawns = int("max-resident-spawns", values.maxResidentSpawns, 1, 10_000_000);
  const instanceIdleMs = int("instance-idle-ms", values.instanceIdleMs, 0, 7 * 24 * 3600 * 1000);
  const logMaxBytes = int("log-max-bytes", values.logMaxBytes, 1024, 2 ** 40);
  const placementTimeoutMs = int("placement-timeout-ms", values.placementTimeoutMs, 0, 7 * 24 * 3600 * 1000);
  const maxContainers = int("max-containers", values.maxContainers, 1, 100_000);
  const memoryMiB = int("memory-mib", values.memoryMib, 64, 2 ** 30);
  const graceMs = int("shutdown-grace-ms", values.shutdownGraceMs, 0, 24 * 3600 * 1000) ?? 30_000;
  const store = values.store ?? process.env.SKIFF_STORE_URL;
  const { sandbox, limits } = values;
  const tmpSizeMiB = int("tmp-size-mib", values.tmpSizeMib, 1, 1024 * 1024);
  if (Boolean(values.tlsCert) !== Boolean(values.tlsKey))
    throw new UsageError("--tls-cert and --tls-key go together: give both, or neither");
  const tls =
    values.tlsCert && values.tlsKey ? { cert: readPem(values.tlsCert), key: readPem(values.tlsKey) } : undefined;
  const connections: Partial<ConnectionLimits> = {};
  for (const [flag, key, min, max] of CONNECTION_FLAGS) {
    const v = int(flag, (values as unknown as Record<string, string | undefined>)[camel(flag)], min, max);
    if (v !== undefined) connections[key] = v;
  }
  const dataDir = values.dataDir ?? join(process.env.HOME || homedir(), ".skiff", "data");
  const { startLocalServer } = await import("../local-server.js");
  const { parseObjectLimits } = await import("@skiff/server");
  let objectLimits: ReturnType<typeof parseObjectLimits> | undefined;
  try {
    if (values.objectLimits !== undefined) objectLimits = parseObjectLimits(values.objectLimits);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  const server = await startLocalServer({
    host: values.host,
    port,
    dataDir,
    ...(store ? { store } : {}),
    ...(logMaxBytes !== undefined ? { logMaxBytesPerApp: logMaxBytes } : {}),
    ...(retention !== undefined ? { resultRetentionMs: retention } : {}),
    ...(maxResidentSpawns !== undefined ? { maxResidentSpawns } : {}),
    ...(instanceIdleMs !== undefined ? { instanceIdleMs } : {}),
    ...(objectLimits ? { objectLimits } : {}),
    sandbox,
    limits,
    connections,
    ...(tls ? { tls } : {}),
    ...(tmpSizeMiB !== undefined ? { tmpSizeMiB } : {}),
    ...(values.metricsPublic ? { metricsPublic: true } : {}),
    ...(warmPool !== undefined ? { warmPool } : {}),
    ...(webWaitMs !== undefined ? { webWaitMs } : {}),
    ...(webMaxBodyBytes !== undefined ? { webMaxBodyBytes } : {}),
    localWorkers: values.localWorkers,
    ...(placementTimeoutMs !== undefined ? { placementTimeoutMs } : {}),
    ...(maxContainers !== undefined ? { maxContainers } : {}),
    ...(memoryMiB !== undefined ? { memoryMiB } : {}),
    log: (m) => ui.info(`[skiff server] ${m}`),
  });
  const t = server.createdAdminToken;
  if (t) {
    ui.out(`Admin token (shown once):\n  SKIFF_TOKEN_ID=${t.tokenId}\n  SKIFF_TOKEN_SECRET=${t.tokenSecret}`);
    const file = await configPath();
    const profiles = await readProfiles(file);
    const targets = Object.values(profiles).some((p) => p.server_url === server.url);
    if (!targets) {
      const name = profiles.default ? `local-${server.url.split(":").pop()}` : "default";
      await writeProfile(
        file,
        name,
        {
          server_url: server.url,
          token_id: t.tokenId,
          token_secret: t.tokenSecret,
          environment: "main",
        },
        !activeProfile(profiles),
      );
      ui.step(`Wrote profile "${name}" for this server to ${file}`);
    }
  }
  // Printed last: once it appears, the server is ready and its token is known.
  ui.step(`Skiff server listening on ${server.url} (data: ${dataDir})`);
  // SIGTERM (or Ctrl-C) stops gracefully: no new work, running inputs finish within the grace,
  // everything is committed, clients reconnect to the next server. A second one exits at once:
  // what was running runs again after the next start (docs/operations.md).
  let signals = 0;
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals === 1) return resolve();
      ui.info(`${sig} again: exiting now; inputs still running run again when the server next starts`);
      process.exit(1);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  ui.info(`stopping: running inputs may finish within ${graceMs} ms (send SIGTERM again to exit now)…`);
  await server.drain(graceMs);
  await server.close();
  ui.info("stopped");
}
