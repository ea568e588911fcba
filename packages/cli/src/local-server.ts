import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ObjectLimits, openStore, SkiffServer } from "@skiff/server";
import { type LimitsChoice, LocalProvider, type SandboxChoice } from "@skiff/worker";
import { configPath } from "skiff";

export interface LocalServerOptions {
  host?: string;
  port?: number;
  dataDir: string;
  /** Where the state lives: unset for SQLite in dataDir (see openStore). */
  store?: string;
  /** Bytes of log text kept per app. */
  logMaxBytesPerApp?: number;
  resultRetentionMs?: number;
  maxResidentSpawns?: number;
  objectLimits?: Partial<ObjectLimits>;
  instanceIdleMs?: number;
  sandbox?: SandboxChoice;
  warmPool?: number;
  webWaitMs?: number;
  webMaxBodyBytes?: number;
  limits?: LimitsChoice;
  metricsPublic?: boolean;
  log?: (msg: string) => void;
}

/** The control plane with the local worker provider: what `skiff server` runs. */
export async function startLocalServer(o: LocalServerOptions): Promise<SkiffServer> {
  const cfg = await configPath();
  return SkiffServer.start({
    ...(o.host ? { host: o.host } : {}),
    ...(o.port !== undefined ? { port: o.port } : {}),
    dataDir: o.dataDir,
    store: (ctx) => openStore(o.store, ctx),
    ...(o.logMaxBytesPerApp !== undefined ? { logMaxBytesPerApp: o.logMaxBytesPerApp } : {}),
    ...(o.resultRetentionMs !== undefined ? { resultRetentionMs: o.resultRetentionMs } : {}),
    ...(o.maxResidentSpawns !== undefined ? { maxResidentSpawns: o.maxResidentSpawns } : {}),
    ...(o.objectLimits ? { objectLimits: o.objectLimits } : {}),
    ...(o.instanceIdleMs !== undefined ? { instanceIdleMs: o.instanceIdleMs } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.metricsPublic ? { metricsPublic: true } : {}),
    ...(o.webWaitMs !== undefined ? { webWaitMs: o.webWaitMs } : {}),
    ...(o.webMaxBodyBytes !== undefined ? { webMaxBodyBytes: o.webMaxBodyBytes } : {}),
    provider: (controlSocket) =>
      new LocalProvider({
        controlSocket,
        sandbox: o.sandbox ?? "auto",
        limits: o.limits ?? "auto",
        ...(o.warmPool !== undefined ? { warmPool: o.warmPool } : {}),
        // Containers must not see the server's state or the tokens in the config file.
        hide: [o.dataDir, cfg],
        ...(o.log ? { log: o.log } : {}),
      }),
  });
}

/** An embedded server for one `skiff run`: temporary data, a free port, gone afterwards. */
export async function startEmbeddedServer(
  log: (msg: string) => void,
): Promise<{ server: SkiffServer; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-embedded-"));
  const server = await startLocalServer({ host: "127.0.0.1", port: 0, dataDir, log });
  return {
    server,
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
