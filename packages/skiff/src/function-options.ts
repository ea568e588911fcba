import {
  type BatchingWire,
  type FunctionOptionsWire,
  MAX_BATCH_SIZE,
  MAX_BATCH_WAIT_MS,
  type OptionsOverrideWire,
  type VolumeMountWire,
} from "@skiff/protocol";
import { InvalidError } from "./errors.js";
import { Image } from "./image.js";
import { didYouMean } from "./nearest.js";
import { Volume } from "./objects/volume.js";
import { Retries } from "./retries.js";
import { Cron, Period, type Schedule } from "./schedule.js";
import { ENV_KEY, Secret } from "./secret.js";

/** Dynamic batching (api.md §2): the function receives arrays of inputs and returns arrays of outputs. */
export interface BatchingParams {
  /** Most inputs in one batch, 1 .. 1000. */
  maxBatchSize: number;
  /** How long a batch waits for more inputs after its first, 0 .. 600_000 ms. */
  waitMs: number;
}

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
  /**
   * "any", "H100", "H100:2" (two of them), or a list of acceptable types (["H100", "A100:2"]:
   * the count, if any, is the last one's): placed only on a worker that advertises one.
   */
  gpu?: string | string[];
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
  /** The image to run in (api.md §1a). @defaultValue the host's own system, read-only */
  image?: Image;
  /** Volumes mounted at these absolute paths (api.md §7): `{ "/data": vol }`, or `vol.readOnly()`. */
  volumes?: Record<string, Volume>;
  /**
   * Dynamic batching: callers call with single inputs, the function gets arrays of them (one
   * array per parameter) and returns an array with one output per input, in order.
   */
  batched?: BatchingParams;
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
  "image",
  "batched",
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
    if (!KNOWN.has(key)) throw new InvalidError(`${where}: unknown option "${key}"${didYouMean(key, KNOWN)}`);
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

  let batched: BatchingWire | undefined;
  if (p.batched !== undefined) {
    batched = checkBatching(where, p.batched);
    if (maxInputs > 1)
      throw new InvalidError(
        `${where}: a batched function runs one batch at a time per container: drop concurrency.maxInputs (raise batched.maxBatchSize instead)`,
      );
  }

  if (p.cpu !== undefined && !(typeof p.cpu === "number" && p.cpu > 0 && p.cpu <= 256)) {
    throw new InvalidError(`${where}: cpu must be a number of cores above 0, got ${JSON.stringify(p.cpu)}`);
  }
  const memoryMiB = p.memoryMiB === undefined ? undefined : int(where, "memoryMiB", p.memoryMiB, 16, 1_048_576);
  const gpuList = Array.isArray(p.gpu) ? p.gpu : undefined;
  if (
    p.gpu !== undefined &&
    (gpuList
      ? gpuList.length === 0 || gpuList.some((g) => typeof g !== "string" || g.length === 0)
      : typeof p.gpu !== "string" || p.gpu.length === 0)
  ) {
    throw new InvalidError(`${where}: gpu must be a string such as "any", "H100" or "H100:2", or a list of them`);
  }
  // A list travels as one string: "H100,A100:2" (the count applies to any of the types).
  const gpu = gpuList
    ? `${gpuList.map((g) => g.split(":")[0]).join(",")}${gpuList.at(-1)!.includes(":") ? `:${gpuList.at(-1)!.split(":")[1]}` : ""}`
    : (p.gpu as string | undefined);

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

  if (p.image !== undefined && !(p.image instanceof Image))
    throw new InvalidError(`${where}: image must be an Image (Image.debianSlim()…)`);

  return {
    wire: {
      ...(p.image instanceof Image ? { image: p.image._wire() } : {}),
      timeoutMs,
      retries: {
        maxRetries: retries.maxRetries,
        backoffCoefficient: retries.backoffCoefficient,
        initialDelayMs: retries.initialDelayMs,
        maxDelayMs: retries.maxDelayMs,
      },
      ...(p.cpu !== undefined ? { cpu: p.cpu as number } : {}),
      ...(memoryMiB !== undefined ? { memoryMiB } : {}),
      ...(gpu !== undefined ? { gpu } : {}),
      maxContainers,
      minContainers,
      bufferContainers,
      scaledownWindowMs,
      startupTimeoutMs,
      maxInputs,
      ...(threads !== undefined ? { threads } : {}),
      ...(batched ? { batched } : {}),
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

/** Checks `{ maxBatchSize, waitMs }` against Modal's limits. @throws InvalidError */
export function checkBatching(where: string, b: unknown): BatchingWire {
  if (b === null || typeof b !== "object" || Array.isArray(b))
    throw new InvalidError(`${where}: batched must be { maxBatchSize, waitMs }`);
  for (const k of Object.keys(b))
    if (k !== "maxBatchSize" && k !== "waitMs")
      throw new InvalidError(`${where}: batched has no option "${k}" (it takes maxBatchSize and waitMs)`);
  const o = b as Record<string, unknown>;
  return {
    maxBatchSize: int(where, "batched.maxBatchSize", o.maxBatchSize, 1, MAX_BATCH_SIZE),
    waitMs: int(where, "batched.waitMs", o.waitMs, 0, MAX_BATCH_WAIT_MS),
  };
}

/**
 * The options a variant may change (`withOptions` on a function or a class): the one SDK list,
 * typed from itself; the wire's list (OPTION_OVERRIDE_KEYS) is what the server checks.
 */
export const VARIANT_OPTION_KEYS = [
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
  "env",
  "secrets",
  "batched",
] as const satisfies readonly (keyof FunctionParams)[];

/** Options a variant may change (`withOptions`). */
export type VariantOptions = Pick<FunctionParams, (typeof VARIANT_OPTION_KEYS)[number]>;

const VARIANT_KEYS = new Set<string>(VARIANT_OPTION_KEYS);

/** Which wire fields each option sets. */
const WIRE_FIELDS: Partial<Record<string, (keyof OptionsOverrideWire)[]>> = {
  concurrency: ["maxInputs", "threads"],
  secrets: ["secretNames", "inlineSecrets"],
};

/**
 * Checks a variant's options by name and value and returns the wire fields they set, merged
 * over `current` (a variant of a variant keeps the first one's changes). @throws InvalidError
 */
export function variantOverrides(
  where: string,
  options: VariantOptions,
  current: OptionsOverrideWire,
): OptionsOverrideWire {
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new InvalidError(`${where}: options must be an object`);
  for (const k of Object.keys(options)) {
    if (VARIANT_KEYS.has(k)) continue;
    const hint = k in RENAMED ? ` (it is named "${RENAMED[k]}" in Skiff)` : didYouMean(k, VARIANT_KEYS);
    throw new InvalidError(
      `${where}: option "${k}" cannot be changed per variant${hint} (allowed: ${VARIANT_OPTION_KEYS.join(", ")})`,
    );
  }
  const wire = normalizeFunctionOptions(where, options as FunctionParams).wire as unknown as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const k of Object.keys(options)) {
    for (const field of WIRE_FIELDS[k] ?? [k]) if (wire[field] !== undefined) picked[field] = wire[field];
  }
  return { ...current, ...(picked as OptionsOverrideWire) };
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
