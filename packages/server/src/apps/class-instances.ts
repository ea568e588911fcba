import { createHash } from "node:crypto";
import {
  type FunctionSpec,
  OPTION_OVERRIDE_KEYS,
  type OptionsOverrideWire,
  type ParamSpec,
  type ParamValue,
} from "@skiff/protocol";
import { invalid } from "../api/api-error.js";
import { validateFunctionSpec } from "./validate-spec.js";

/**
 * Class instances (api.md §3) and function variants (§2, `withOptions`): a parameter set plus
 * option overrides names a pool of containers of its own. The same parameters (defaults filled
 * in) and options always give the same id, so `instance({})` and `instance({ size: "small" })`
 * share a pool, as do two equal `withOptions` variants of a function.
 */

function typeOf(v: unknown): ParamSpec["type"] | undefined {
  switch (typeof v) {
    case "string":
    case "number":
    case "boolean":
    case "bigint":
      return typeof v as ParamSpec["type"];
    default:
      return undefined;
  }
}

function defaultValue(p: ParamSpec): ParamValue | undefined {
  if (p.default === undefined) return undefined;
  return p.type === "bigint" ? BigInt(p.default as string) : p.default;
}

/** Checks parameters against a class's schema; returns them all, in schema order, defaults filled in. */
export function checkParams(
  where: string,
  schema: ParamSpec[],
  given: Record<string, unknown>,
): Record<string, ParamValue> {
  const known = new Set(schema.map((p) => p.name));
  for (const k of Object.keys(given)) {
    if (!known.has(k)) {
      const have = schema.map((p) => p.name).join(", ") || "none";
      throw invalid(`${where}: unknown parameter "${k}" (its @parameter() fields: ${have})`);
    }
  }
  const out: Record<string, ParamValue> = {};
  for (const p of schema) {
    const v = given[p.name] === undefined ? defaultValue(p) : given[p.name];
    if (v === undefined) throw invalid(`${where}: parameter "${p.name}" has no default and must be given`);
    const t = typeOf(v);
    if (!t) throw invalid(`${where}: parameter "${p.name}" must be a string, number, boolean or bigint`);
    if (p.type !== "any" && t !== p.type)
      throw invalid(`${where}: parameter "${p.name}" must be a ${p.type}, got ${t} ${JSON.stringify(String(v))}`);
    if (t === "number" && !Number.isFinite(v)) throw invalid(`${where}: parameter "${p.name}" must be a finite number`);
    if (t === "string" && (v as string).length > 4096)
      throw invalid(`${where}: parameter "${p.name}" is over 4096 chars`);
    out[p.name] = v as ParamValue;
  }
  return out;
}

/** Whether the parameters are exactly the defaults (the class's own pool serves them). */
export function isDefault(schema: ParamSpec[], params: Record<string, ParamValue>): boolean {
  return schema.every((p) => p.default !== undefined && params[p.name] === defaultValue(p));
}

const OVERRIDABLE = new Set<string>(OPTION_OVERRIDE_KEYS);

/** Applies option overrides to a class's spec; the result is checked like any spec. */
export function applyOverrides(
  appName: string,
  spec: FunctionSpec,
  overrides: Record<string, unknown>,
): { spec: FunctionSpec; overrides: OptionsOverrideWire } {
  for (const k of Object.keys(overrides)) {
    if (!OVERRIDABLE.has(k)) throw invalid(`${appName}.${spec.name}: option "${k}" cannot be changed per variant`);
  }
  if (overrides.batched !== undefined && !spec.options.batched)
    throw invalid(
      `${appName}.${spec.name} is not batched: withBatching() applies to functions defined with { batched } (they take arrays)`,
    );
  const merged = { ...spec, options: { ...spec.options, ...overrides } };
  validateFunctionSpec(appName, merged);
  return { spec: merged, overrides: overrides as OptionsOverrideWire };
}

/** A stable text for a value: sorted keys, bigints marked, so equal inputs hash the same. */
function canonical(v: unknown): string {
  if (typeof v === "bigint") return `{"$bigint":"${v}"}`;
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** The instance's function id: the class's id and a hash of its parameters and overrides. */
export function instanceId(classFunctionId: string, params: Record<string, ParamValue>, overrides: object): string {
  const h = createHash("sha256").update(canonical(params)).update("\n").update(canonical(overrides)).digest("hex");
  return `${classFunctionId}.${h.slice(0, 16)}`;
}
