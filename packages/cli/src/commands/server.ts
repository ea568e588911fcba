import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_PORT } from "@skiff/server";
import { activeProfile, configPath, readProfiles, writeProfile } from "skiff";
import { UsageError } from "../errors.js";
import { startLocalServer } from "../local-server.js";
import { ui } from "../output.js";

export const SERVER_HELP = `Usage: skiff server [--host 127.0.0.1] [--port ${DEFAULT_PORT}] [--data-dir ~/.skiff/data]
                    [--result-retention-ms N] [--sandbox auto|bubblewrap|none] [--warm-pool 2]
                    [--web-wait-ms 150000] [--web-max-body-bytes 67108864]
                    [--max-resident-spawns 10000] [--instance-idle-ms 300000]
                    [--limits auto|none] [--metrics-public]

Runs the control plane with the embedded store (SQLite) and local containers. The first
start creates an admin token, prints it once, and writes a profile for this server into
~/.skiff.toml (SKIFF_CONFIG_PATH) when no profile targets it yet. --warm-pool keeps that many
container processes started ahead of need, so a scale-up only loads the app.
--max-resident-spawns bounds the pending .spawn calls each function holds in memory; more
wait in the store and are taken in, oldest first, as earlier ones finish. A class instance
(one parameter set) with no calls and no containers for --instance-idle-ms leaves memory;
its next call takes it back. --limits auto caps each container's memory and process count
with cgroups where this host allows it (docs/security.md); none turns that off.

Web endpoints are served on the same port (docs/web.md): a request waits --web-wait-ms for
its response head, then is answered 303 to a result URL; bodies over --web-max-body-bytes
get 413.

The dashboard is at the server's URL (sign in with a token); Prometheus metrics are at
/metrics, for an API or admin token unless --metrics-public (docs/dashboard.md).`;

function int(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

export async function serverCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      "data-dir": { type: "string" },
      "result-retention-ms": { type: "string" },
      sandbox: { type: "string", default: "auto" },
      "warm-pool": { type: "string" },
      "web-wait-ms": { type: "string" },
      "web-max-body-bytes": { type: "string" },
      "max-resident-spawns": { type: "string" },
      "instance-idle-ms": { type: "string" },
      limits: { type: "string", default: "auto" },
      "metrics-public": { type: "boolean", default: false },
    },
    strict: true,
  });
  const port = int("port", values.port, 0, 65535) ?? DEFAULT_PORT;
  const retention = int("result-retention-ms", values["result-retention-ms"], 1000, 365 * 24 * 3600 * 1000);
  const warmPool = int("warm-pool", values["warm-pool"], 0, 64);
  const webWaitMs = int("web-wait-ms", values["web-wait-ms"], 1, 24 * 3600 * 1000);
  const webMaxBodyBytes = int("web-max-body-bytes", values["web-max-body-bytes"], 0, 2 ** 40);
  const maxResidentSpawns = int("max-resident-spawns", values["max-resident-spawns"], 1, 10_000_000);
  const instanceIdleMs = int("instance-idle-ms", values["instance-idle-ms"], 0, 7 * 24 * 3600 * 1000);
  const sandbox = values.sandbox;
  if (sandbox !== "auto" && sandbox !== "bubblewrap" && sandbox !== "none")
    throw new UsageError("--sandbox must be auto, bubblewrap or none");
  const limits = values.limits;
  if (limits !== "auto" && limits !== "none") throw new UsageError("--limits must be auto or none");
  const dataDir = values["data-dir"] ?? join(process.env.HOME || homedir(), ".skiff", "data");

  const server = await startLocalServer({
    host: values.host,
    port,
    dataDir,
    ...(retention !== undefined ? { resultRetentionMs: retention } : {}),
    ...(maxResidentSpawns !== undefined ? { maxResidentSpawns } : {}),
    ...(instanceIdleMs !== undefined ? { instanceIdleMs } : {}),
    sandbox,
    limits,
    metricsPublic: values["metrics-public"],
    ...(warmPool !== undefined ? { warmPool } : {}),
    ...(webWaitMs !== undefined ? { webWaitMs } : {}),
    ...(webMaxBodyBytes !== undefined ? { webMaxBodyBytes } : {}),
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
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  ui.info("stopping…");
  await server.close();
  return 0;
}
