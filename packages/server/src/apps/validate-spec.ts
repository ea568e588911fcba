import {
  type FunctionSpec,
  MAX_BATCH_SIZE,
  MAX_BATCH_WAIT_MS,
  parseGpuNeed,
  WEB_LABEL,
  WEB_METHODS,
} from "@skiff/protocol";
import { invalid } from "../api/api-error.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

function int(where: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`${where} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function strings(where: string, v: unknown, keyPattern: RegExp): Record<string, string> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw invalid(`${where} must be an object of strings`);
  for (const [k, x] of Object.entries(v)) {
    if (!keyPattern.test(k) || typeof x !== "string")
      throw invalid(`${where}.${k} must be a string under a valid variable name`);
  }
  return v as Record<string, string>;
}

/**
 * Checks a function spec from `app.publish`. The SDK already applied defaults and checked the
 * options; the control plane checks again because any client can send anything.
 */
export function validateFunctionSpec(app: string, spec: unknown): FunctionSpec {
  if (spec === null || typeof spec !== "object") throw invalid(`${app}: each function must be an object`);
  const f = spec as Record<string, unknown>;
  if (typeof f.name !== "string" || !NAME.test(f.name))
    throw invalid(`${app}: invalid function name ${JSON.stringify(f.name)}`);
  const w = `${app}.${f.name}`;
  if (typeof f.isGenerator !== "boolean") throw invalid(`${w}: isGenerator must be a boolean`);
  const o = f.options as Record<string, unknown> | undefined;
  if (o === null || typeof o !== "object") throw invalid(`${w}: options must be an object`);
  int(`${w}: timeoutMs`, o.timeoutMs, 1000, 86_400_000);
  const r = o.retries as Record<string, unknown> | undefined;
  if (r === null || typeof r !== "object") throw invalid(`${w}: retries must be an object`);
  int(`${w}: retries.maxRetries`, r.maxRetries, 0, 10);
  for (const k of ["backoffCoefficient", "initialDelayMs", "maxDelayMs"]) {
    if (typeof r[k] !== "number" || !Number.isFinite(r[k]) || (r[k] as number) < 0)
      throw invalid(`${w}: retries.${k} must be a number >= 0`);
  }
  const max = int(`${w}: maxContainers`, o.maxContainers, 1, 10_000);
  int(`${w}: minContainers`, o.minContainers, 0, max);
  int(`${w}: bufferContainers`, o.bufferContainers, 0, max);
  int(`${w}: scaledownWindowMs`, o.scaledownWindowMs, 0, 86_400_000);
  int(`${w}: startupTimeoutMs`, o.startupTimeoutMs, 1000, 3_600_000);
  int(`${w}: maxInputs`, o.maxInputs, 1, 1000);
  if (o.threads !== undefined && typeof o.threads !== "boolean") throw invalid(`${w}: threads must be a boolean`);
  if (o.cpu !== undefined && !(typeof o.cpu === "number" && o.cpu > 0 && o.cpu <= 256))
    throw invalid(`${w}: cpu must be a number above 0`);
  if (o.memoryMiB !== undefined) int(`${w}: memoryMiB`, o.memoryMiB, 16, 1_048_576);
  if (o.gpu !== undefined && (typeof o.gpu !== "string" || o.gpu.length === 0 || o.gpu.length > 64))
    throw invalid(`${w}: gpu must be a short string`);
  if (o.gpu !== undefined) {
    const g = parseGpuNeed(o.gpu);
    if (typeof g === "string") throw invalid(`${w}: ${g}`);
  }
  strings(`${w}: env`, o.env, ENV_KEY);
  strings(`${w}: inlineSecrets`, o.inlineSecrets, ENV_KEY);
  if (typeof o.blockNetwork !== "boolean") throw invalid(`${w}: blockNetwork must be a boolean`);
  if (
    !Array.isArray(o.secretNames) ||
    o.secretNames.some((n) => typeof n !== "string" || n.length === 0 || n.length > 64)
  ) {
    throw invalid(`${w}: secretNames must be an array of names`);
  }
  if (o.schedule !== undefined) {
    const sc = o.schedule as Record<string, unknown>;
    if (sc?.kind === "period") int(`${w}: schedule.periodMs`, sc.periodMs, 1000, 366 * 86_400_000);
    else if (sc?.kind !== "cron" || typeof sc.expression !== "string")
      throw invalid(`${w}: schedule must be a cron or a period`);
  }
  if (o.batched !== undefined) {
    const b = o.batched as Record<string, unknown> | null;
    if (b === null || typeof b !== "object") throw invalid(`${w}: batched must be { maxBatchSize, waitMs }`);
    int(`${w}: batched.maxBatchSize`, b.maxBatchSize, 1, MAX_BATCH_SIZE);
    int(`${w}: batched.waitMs`, b.waitMs, 0, MAX_BATCH_WAIT_MS);
    if (o.maxInputs !== 1)
      throw invalid(`${w}: a batched function runs one batch at a time per container: maxInputs must be 1`);
    if (f.isGenerator || f.web !== undefined) throw invalid(`${w}: a generator or web endpoint cannot be batched`);
    const methods = (f.cls as { methods?: unknown[] } | undefined)?.methods;
    if (methods && methods.length !== 1) throw invalid(`${w}: a class with a batched method has only that method`);
  }
  if (f.web !== undefined) validateWebSpec(w, f.web, f.isGenerator);
  if (f.cls !== undefined) validateClassSpec(w, f.cls, f.isGenerator);
  return spec as FunctionSpec;
}

/** A web endpoint's config: the gateway routes by it, so it must be exactly right. */
function validateWebSpec(w: string, web: unknown, isGenerator: boolean): void {
  const s = web as Record<string, unknown> | null;
  if (s === null || typeof s !== "object") throw invalid(`${w}: web must be an object`);
  if (s.kind !== "endpoint" && s.kind !== "fetch" && s.kind !== "node")
    throw invalid(`${w}: web.kind must be "endpoint", "fetch" or "node"`);
  if (typeof s.label !== "string" || !WEB_LABEL.test(s.label) || s.label.endsWith("-dev"))
    throw invalid(
      `${w}: web label ${JSON.stringify(s.label)} is invalid: lowercase letters, digits and single hyphens, not ending in "-dev"`,
    );
  if (s.kind === "endpoint" ? !(WEB_METHODS as readonly unknown[]).includes(s.method) : s.method !== undefined)
    throw invalid(`${w}: web.method must be one of ${WEB_METHODS.join(", ")} (webEndpoint only)`);
  if (typeof s.waitForResponse !== "boolean" || typeof s.requiresAuth !== "boolean")
    throw invalid(`${w}: web.waitForResponse and web.requiresAuth must be booleans`);
  // The gateway reads a web call's response as the items of a generator.
  if (!isGenerator) throw invalid(`${w}: a web endpoint function must be a generator (define it with the SDK)`);
}

/** Two web endpoints of one app cannot share a label (they would share a URL). */
export function checkWebLabels(app: string, specs: FunctionSpec[]): void {
  const seen = new Map<string, string>();
  for (const f of specs) {
    if (!f.web) continue;
    const other = seen.get(f.web.label);
    if (other) throw invalid(`${app}: ${other} and ${f.name} both use the web label "${f.web.label}"`);
    seen.set(f.web.label, f.name);
  }
}

const PARAM_TYPES = new Set(["string", "number", "boolean", "bigint", "any"]);

function validateClassSpec(w: string, cls: unknown, isGenerator: unknown): void {
  const c = cls as Record<string, unknown> | null;
  if (c === null || typeof c !== "object") throw invalid(`${w}: cls must be an object`);
  if (isGenerator) throw invalid(`${w}: a class is not a generator (its methods may be)`);
  if (!Array.isArray(c.methods) || c.methods.length === 0 || c.methods.length > 1000)
    throw invalid(`${w}: a class needs 1 to 1000 @method() methods`);
  const seen = new Set<string>();
  for (const m of c.methods as Record<string, unknown>[]) {
    if (typeof m?.name !== "string" || !NAME.test(m.name)) throw invalid(`${w}: invalid method name`);
    if (typeof m.isGenerator !== "boolean") throw invalid(`${w}.${m.name}: isGenerator must be a boolean`);
    if (seen.has(m.name)) throw invalid(`${w}: two methods named "${m.name}"`);
    seen.add(m.name);
  }
  if (!Array.isArray(c.params) || c.params.length > 100) throw invalid(`${w}: params must be an array (up to 100)`);
  const names = new Set<string>();
  for (const p of c.params as Record<string, unknown>[]) {
    if (typeof p?.name !== "string" || !NAME.test(p.name)) throw invalid(`${w}: invalid parameter name`);
    if (names.has(p.name)) throw invalid(`${w}: two parameters named "${p.name}"`);
    names.add(p.name);
    if (typeof p.type !== "string" || !PARAM_TYPES.has(p.type))
      throw invalid(`${w}: parameter ${p.name}: type must be one of ${[...PARAM_TYPES].join(", ")}`);
    const d = p.default;
    if (d !== undefined && typeof d !== "string" && typeof d !== "number" && typeof d !== "boolean")
      throw invalid(`${w}: parameter ${p.name}: default must be a string, number or boolean`);
  }
}
