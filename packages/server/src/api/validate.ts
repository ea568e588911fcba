import { invalid } from "./api-error.js";

/** Small checks for request params: each names the field that is wrong. */
export function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw invalid(`${what} must be an object`);
  return v as Record<string, unknown>;
}

export function str(p: Record<string, unknown>, key: string, opts: { optional?: boolean; max?: number } = {}): string {
  const v = p[key];
  if (v === undefined && opts.optional) return undefined as unknown as string;
  if (typeof v !== "string" || v.length === 0) throw invalid(`${key} must be a non-empty string`);
  if (v.length > (opts.max ?? 256)) throw invalid(`${key} is longer than ${opts.max ?? 256} characters`);
  return v;
}

export function num(
  p: Record<string, unknown>,
  key: string,
  opts: { optional?: boolean; min?: number; max?: number } = {},
): number {
  const v = p[key];
  if (v === undefined && opts.optional) return undefined as unknown as number;
  if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(`${key} must be a number`);
  if (opts.min !== undefined && v < opts.min) throw invalid(`${key} must be >= ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) throw invalid(`${key} must be <= ${opts.max}`);
  return v;
}

export function bool(p: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = p[key];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw invalid(`${key} must be a boolean`);
  return v;
}

export function bytes(p: Record<string, unknown>, key: string, max: number): Uint8Array {
  const v = p[key];
  if (!(v instanceof Uint8Array)) throw invalid(`${key} must be bytes`);
  if (v.byteLength > max) throw invalid(`${key} is ${v.byteLength} bytes, over the limit of ${max}`);
  return v;
}

export function stringRecord(p: Record<string, unknown>, key: string): Record<string, string> {
  const v = obj(p[key], key);
  for (const [k, val] of Object.entries(v)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw invalid(`${key}: ${JSON.stringify(k)} is not a valid environment variable name`);
    if (typeof val !== "string") throw invalid(`${key}.${k} must be a string`);
  }
  return v as Record<string, string>;
}
