import type { FunctionOptionsWire, VolumeMountWire } from "@skiff/protocol";
import { InvalidError } from "./errors.js";
import { Volume } from "./objects/volume.js";
import { Retries } from "./retries.js";
import { Cron, Period, type Schedule } from "./schedule.js";
import { ENV_KEY, Secret } from "./secret.js";

export interface ConcurrencyParams {
  /** Inputs one container runs at once. @defaultValue 1 */
  maxInputs: number;
  /** Run them on worker threads (default for non-async functions). */
  threads?: boolean;
}

/** Options of `app.function(options, fn)`; see api.md §1. */
export interface FunctionParams {
  /** The function's name; by default the name it is exported under. */
  name?: string;
  /** Per attempt. 1 s .. 24 h. @defaultValue 300_000 */
  timeoutMs?: number;
  /** Retries after a thrown error or a timeout. @defaultValue 0 */
  retries?: number | Retries;
  cpu?: number;
  memoryMiB?: number;
  /** "any", "H100", …: placed only on a worker that has one. */
  gpu?: string;
  /** @defaultValue 100 */
  maxContainers?: number;
  /** @defaultValue 0 */
  minContainers?: number;
  /** @defaultValue 0 */
  bufferContainers?: number;
  /** Idle time before a container above minContainers stops. @defaultValue 60_000 */
  scaledownWindowMs?: number;
  /** Module load (and `@enter`). @defaultValue 60_000 */
  startupTimeoutMs?: number;
  concurrency?: ConcurrencyParams;
  /** Live only when deployed. */
  schedule?: Schedule;
  env?: Record<string, string>;
  /** No network at all inside the container. @defaultValue false */
  blockNetwork?: boolean;
  secrets?: Secret[];
  /** Not supported yet: naming a volume is an error. */
  volumes?: Record<string, Volume>;
}

const RENAMED: Record<string, string> = {
  timeout: "timeoutMs",
  memory: "memoryMiB",
  scaledown_window: "scaledownWindowMs",
  scaledownWindow: "scaledownWindowMs",
  startupTimeout: "startupTimeoutMs",
  startup_timeout: "startupTimeoutMs",
  max_containers: "maxContainers",
  min_containers: "minContainers",
  buffer_containers: "bufferContainers",
  block_network: "blockNetwork",
  concurrencyLimit: "maxContainers",
  allowConcurrentInputs: "concurrency",
};

const KNOWN = new Set([
  "name",
  "timeoutMs",
  "retries",
  "cpu",
  "memoryMiB",
  "gpu",
  "maxContainers",
  "minContainers",
  "bufferContainers",
  "scaledownWindowMs",
  "startupTimeoutMs",
  "concurrency",
  "schedule",
  "env",
  "blockNetwork",
  "secrets",
  "volumes",
]);

function int(where: string, key: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidError(`${where}: ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export interface NormalizedFunctionOptions {
  wire: FunctionOptionsWire;
  schedule: Schedule | undefined;
  threads: boolean | undefined;
}

/** Checks a function's options and converts them to what the control plane stores. */
export function normalizeFunctionOptions(where: string, params: FunctionParams): NormalizedFunctionOptions {
  if (params === null || typeof params !== "object") throw new InvalidError(`${where}: options must be an object`);
  for (const key of Object.keys(params)) {
    if (key in RENAMED) throw new InvalidError(`${where}: option "${key}" is named "${RENAMED[key]}" in Skiff`);
    if (!KNOWN.has(key)) throw new InvalidError(`${where}: unknown option "${key}"`);
  }
  const p = params as Record<string, unknown>;
  const timeoutMs = p.timeoutMs === undefined ? 300_000 : int(where, "timeoutMs", p.timeoutMs, 1000, 86_400_000);
  let retries: Retries;
  if (p.retries === undefined) retries = new Retries({ maxRetries: 0 });
  else if (typeof p.retries === "number")
    retries = new Retries({ maxRetries: int(where, "retries", p.retries, 0, 10) });
  else if (p.retries instanceof Retries) retries = p.retries;
  else throw new InvalidError(`${where}: retries must be a number or a Retries`);

  const maxContainers = p.maxContainers === undefined ? 100 : int(where, "maxContainers", p.maxContainers, 1, 10_000);
  const minContainers =
    p.minContainers === undefined ? 0 : int(where, "minContainers", p.minContainers, 0, maxContainers);
  const bufferContainers =
    p.bufferContainers === undefined ? 0 : int(where, "bufferContainers", p.bufferContainers, 0, maxContainers);
  const scaledownWindowMs =
    p.scaledownWindowMs === undefined ? 60_000 : int(where, "scaledownWindowMs", p.scaledownWindowMs, 0, 86_400_000);
  const startupTimeoutMs =
    p.startupTimeoutMs === undefined ? 60_000 : int(where, "startupTimeoutMs", p.startupTimeoutMs, 1000, 3_600_000);

  let maxInputs = 1;
  let threads: boolean | undefined;
  if (p.concurrency !== undefined) {
    const c = p.concurrency as ConcurrencyParams;
    if (c === null || typeof c !== "object")
      throw new InvalidError(`${where}: concurrency must be { maxInputs, threads? }`);
    maxInputs = int(where, "concurrency.maxInputs", c.maxInputs, 1, 1000);
    if (c.threads !== undefined && typeof c.threads !== "boolean")
      throw new InvalidError(`${where}: concurrency.threads must be a boolean`);
    threads = c.threads;
  }

  if (p.cpu !== undefined && !(typeof p.cpu === "number" && p.cpu > 0 && p.cpu <= 256)) {
    throw new InvalidError(`${where}: cpu must be a number of cores above 0, got ${JSON.stringify(p.cpu)}`);
  }
  const memoryMiB = p.memoryMiB === undefined ? undefined : int(where, "memoryMiB", p.memoryMiB, 16, 1_048_576);
  if (p.gpu !== undefined && (typeof p.gpu !== "string" || p.gpu.length === 0)) {
    throw new InvalidError(`${where}: gpu must be a string such as "any" or "H100"`);
  }

  let schedule: Schedule | undefined;
  if (p.schedule !== undefined) {
    if (!(p.schedule instanceof Cron || p.schedule instanceof Period))
      throw new InvalidError(`${where}: schedule must be a Cron or a Period`);
    schedule = p.schedule;
  }

  const env: Record<string, string> = {};
  if (p.env !== undefined) {
    if (p.env === null || typeof p.env !== "object")
      throw new InvalidError(`${where}: env must be an object of strings`);
    for (const [k, v] of Object.entries(p.env)) {
      if (!ENV_KEY.test(k)) throw new InvalidError(`${where}: env: ${JSON.stringify(k)} is not a valid variable name`);
      if (typeof v !== "string") throw new InvalidError(`${where}: env.${k} must be a string`);
      env[k] = v;
    }
  }
  if (p.blockNetwork !== undefined && typeof p.blockNetwork !== "boolean")
    throw new InvalidError(`${where}: blockNetwork must be a boolean`);

  const secretNames: string[] = [];
  const inlineSecrets: Record<string, string> = {};
  if (p.secrets !== undefined) {
    if (!Array.isArray(p.secrets)) throw new InvalidError(`${where}: secrets must be an array of Secret`);
    for (const s of p.secrets) {
      if (!(s instanceof Secret))
        throw new InvalidError(`${where}: secrets must hold Secret.fromName(…) or Secret.fromObject(…)`);
      if (s.name) secretNames.push(s.name);
      else Object.assign(inlineSecrets, s._values);
    }
  }
  const volumes = volumeMounts(where, p.volumes);

  return {
    wire: {
      timeoutMs,
      retries: {
        maxRetries: retries.maxRetries,
        backoffCoefficient: retries.backoffCoefficient,
        initialDelayMs: retries.initialDelayMs,
        maxDelayMs: retries.maxDelayMs,
      },
      ...(p.cpu !== undefined ? { cpu: p.cpu as number } : {}),
      ...(memoryMiB !== undefined ? { memoryMiB } : {}),
      ...(p.gpu !== undefined ? { gpu: p.gpu as string } : {}),
      maxContainers,
      minContainers,
      bufferContainers,
      scaledownWindowMs,
      startupTimeoutMs,
      maxInputs,
      ...(threads !== undefined ? { threads } : {}),
      env,
      blockNetwork: (p.blockNetwork as boolean | undefined) ?? false,
      secretNames,
      inlineSecrets,
      ...(volumes ? { volumes } : {}),
      ...(schedule
        ? {
            schedule:
              schedule instanceof Cron
                ? {
                    kind: "cron" as const,
                    expression: schedule.expression,
                    ...(schedule.options.timezone ? { timezone: schedule.options.timezone } : {}),
                  }
                : { kind: "period" as const, periodMs: schedule.periodMs },
          }
        : {}),
    },
    schedule,
    threads,
  };
}

/** Where a volume may not be mounted: the system directories the sandbox provides. */
const RESERVED_MOUNTS = ["/bin", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr"];

function volumeMounts(where: string, v: unknown): Record<string, VolumeMountWire> | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new InvalidError(`${where}: volumes must be an object of mount path to Volume`);
  const out: Record<string, VolumeMountWire> = {};
  for (const [path, vol] of Object.entries(v)) {
    if (!(vol instanceof Volume)) throw new InvalidError(`${where}: volumes["${path}"] must be a Volume`);
    const mount = vol._mount();
    if (!mount) throw new InvalidError(`${where}: volumes["${path}"]: mount a named Volume (Volume.fromName)`);
    const parts = path.split("/");
    if (!path.startsWith("/") || path === "/" || parts.some((x, i) => i > 0 && (x === "" || x === "." || x === "..")))
      throw new InvalidError(
        `${where}: volume mount path ${JSON.stringify(path)} must be an absolute path like "/data"`,
      );
    if (RESERVED_MOUNTS.some((r) => path === r || path.startsWith(`${r}/`)))
      throw new InvalidError(`${where}: a volume cannot be mounted at ${path} (a system directory)`);
    out[path] = mount;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
