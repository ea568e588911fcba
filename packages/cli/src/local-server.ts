import { homedir } from "node:os";
import { join } from "node:path";
import { type ConnectionLimits, type ObjectLimits, openStore, SkiffServer } from "@skiff/server";
import { defaultHostCapacity, type LimitsChoice, LocalProvider, type SandboxChoice } from "@skiff/worker";
import { configPath } from "skiff";
import { makeTempDir, removeTempDir } from "./temp-dirs.js";

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
  /** See LocalProviderOptions.spareNetworksAtStart. @defaultValue true */
  spareNetworksAtStart?: boolean;
  /** See LocalProviderOptions.refillDelayMs. @defaultValue 0 */
  refillDelayMs?: number;
  webWaitMs?: number;
  webMaxBodyBytes?: number;
  limits?: LimitsChoice;
  connections?: Partial<ConnectionLimits>;
  tmpSizeMiB?: number;
  tls?: { cert: string; key: string };
  /** Image layers and build caches. @defaultValue $SKIFF_IMAGE_DIR, else ~/.skiff/images (shared by every server of this user) */
  imageDir?: string;
  /** @defaultValue $SKIFF_IMAGE_LIMIT_BYTES, else 20 GiB */
  imageLimitBytes?: number;
  metricsPublic?: boolean;
  /** Run containers on this host too. @defaultValue true */
  localWorkers?: boolean;
  placementTimeoutMs?: number;
  /** What this host holds at once, across functions. @defaultValue defaultHostCapacity() */
  maxContainers?: number;
  memoryMiB?: number;
  log?: (msg: string) => void;
}

/** Where images live unless told: outside any one server's data, so `skiff run`'s embedded servers share them. */
export function defaultImageDir(): string {
  return process.env.SKIFF_IMAGE_DIR || join(process.env.HOME || homedir(), ".skiff", "images");
}

/** The control plane with the local worker provider: what `skiff server` runs. */
export async function startLocalServer(o: LocalServerOptions): Promise<SkiffServer> {
  const cfg = await configPath();
  const imageDir = o.imageDir ?? defaultImageDir();
  const envLimit = Number(process.env.SKIFF_IMAGE_LIMIT_BYTES);
  const limitBytes = o.imageLimitBytes ?? (Number.isSafeInteger(envLimit) && envLimit > 0 ? envLimit : undefined);
  const defaults = defaultHostCapacity();
  const capacity = {
    maxContainers: o.maxContainers ?? defaults.maxContainers,
    memoryMiB: o.memoryMiB ?? defaults.memoryMiB,
  };
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
    ...(o.connections ? { connections: o.connections } : {}),
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.metricsPublic ? { metricsPublic: true } : {}),
    ...(o.webWaitMs !== undefined ? { webWaitMs: o.webWaitMs } : {}),
    ...(o.webMaxBodyBytes !== undefined ? { webMaxBodyBytes: o.webMaxBodyBytes } : {}),
    workers: {
      local: o.localWorkers !== false,
      localCapacity: capacity,
      ...(o.placementTimeoutMs !== undefined ? { placementTimeoutMs: o.placementTimeoutMs } : {}),
    },
    provider: (controlSocket) =>
      new LocalProvider({
        controlSocket,
        // The server's own control socket: its runtimes speak the framed stream there.
        framedControl: true,
        sandbox: o.sandbox ?? "auto",
        limits: o.limits ?? "auto",
        // Warm-pool processes count against the host's containers too.
        maxProcesses: capacity.maxContainers,
        ...(o.tmpSizeMiB !== undefined ? { tmpSizeMiB: o.tmpSizeMiB } : {}),
        // Without local workers it only builds images: no runtime processes kept warm.
        ...(o.localWorkers === false ? { warmPool: 0 } : o.warmPool !== undefined ? { warmPool: o.warmPool } : {}),
        ...(o.spareNetworksAtStart === false ? { spareNetworksAtStart: false } : {}),
        ...(o.refillDelayMs !== undefined ? { refillDelayMs: o.refillDelayMs } : {}),
        // Containers must not see the server's state or the tokens in the config file.
        hide: [o.dataDir, cfg, imageDir],
        images: { dir: imageDir, ...(limitBytes ? { limitBytes } : {}) },
        ...(o.log ? { log: o.log } : {}),
      }),
  });
}

/** An embedded server for one `skiff run`: temporary data, a free port, gone afterwards. */
export async function startEmbeddedServer(
  log: (msg: string) => void,
): Promise<{ server: SkiffServer; stop(): Promise<void> }> {
  const dataDir = makeTempDir("skiff-embedded-");
  // One runtime kept warm (the pool still grows with demand), no network namespaces made
  // before a container starts, and the runtime that replaces a pooled one started after its
  // container's first moments: this server lives for one command, often one call, and what it
  // starts competes for the CPU with that command, then must be stopped again.
  const server = await startLocalServer({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    log,
    warmPool: 1,
    spareNetworksAtStart: false,
    refillDelayMs: 150,
  });
  return {
    server,
    async stop() {
      await server.close();
      removeTempDir(dataDir);
    },
  };
}
