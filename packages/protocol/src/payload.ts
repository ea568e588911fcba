import { decodeCbor, encodeCbor } from "./codec.js";
import { MAX_PAYLOAD_BYTES } from "./limits.js";

/** A value that cannot be sent to or from a function: names where it is and why. */
export class PayloadError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = "PayloadError";
  }
}

const ALLOWED_CLASSES = new Set<unknown>([Map, Set, Date, RegExp]);

function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  const ctor = (value as { constructor?: { name?: string } }).constructor;
  return ctor?.name ? `an instance of ${ctor.name}` : "an object with a custom prototype";
}

function keyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Checks that `value` holds only what Skiff's payload encoding keeps: primitives (no
 * symbols), arrays, plain objects, Map, Set, Date, RegExp, typed arrays, ArrayBuffer and
 * Error. Throws a PayloadError naming the path of the first value that is not.
 */
export function validatePayload(value: unknown, path: string): void {
  // Most payloads are a scalar or an array of scalars (a map's arguments, its results): those
  // need no walk, so no cycle set, closure or path string is made for them.
  if (isScalar(value)) return;
  if (Array.isArray(value)) {
    let i = 0;
    while (i < value.length && isScalar(value[i])) i++;
    if (i === value.length) return;
  }
  // Anything else that is plain data (arrays, plain objects) is checked next, still without
  // the paths (a string per element and a regex per key, for an error that almost never
  // comes). Map, Set, Error, deep nesting and every failure take the walk, which names the path.
  if (plainPayload(value, [])) return;
  walkPayload(value, path);
}

/** Objects deeper than this are left to walkPayload (its cycle check is a Set, not a scan). */
const PLAIN_DEPTH = 32;

/**
 * Whether `v` holds only primitives (no symbols or functions), typed arrays, ArrayBuffers,
 * Dates, RegExps, arrays and plain objects without symbol keys, with no cycle: true only where
 * walkPayload would accept it. False where it would refuse it, and also for whatever this does
 * not look into (Map, Set, Error, nesting past PLAIN_DEPTH), which walkPayload then checks.
 * `ancestors`: the objects above `v` (a cycle is a reference to one of them).
 */
function plainPayload(v: unknown, ancestors: object[]): boolean {
  if (isScalar(v)) return true;
  if (typeof v !== "object") return false; // a function or a symbol
  const obj = v as object;
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || obj instanceof Date || obj instanceof RegExp)
    return true;
  if (ancestors.length >= PLAIN_DEPTH || ancestors.includes(obj)) return false;
  ancestors.push(obj);
  let ok = true;
  if (Array.isArray(obj)) {
    for (let i = 0; ok && i < obj.length; i++) ok = plainPayload(obj[i], ancestors);
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) ok = false;
    else {
      const keys = Object.keys(obj);
      for (let i = 0; ok && i < keys.length; i++)
        ok = plainPayload((obj as Record<string, unknown>)[keys[i]!], ancestors);
      if (ok && Object.getOwnPropertySymbols(obj).length > 0) ok = false;
    }
  }
  ancestors.pop();
  return ok;
}

/** validatePayload's full walk: throws a PayloadError naming the path of what cannot be sent. */
function walkPayload(value: unknown, path: string): void {
  const seen = new Set<object>();
  const visit = (v: unknown, p: string): void => {
    switch (typeof v) {
      case "undefined":
      case "boolean":
      case "number":
      case "bigint":
      case "string":
        return;
      case "function":
      case "symbol":
        throw new PayloadError(`${p} is ${describe(v)}, which cannot be sent to or from a function`, p);
    }
    if (v === null) return;
    const obj = v as object;
    if (seen.has(obj)) throw new PayloadError(`${p} refers back to itself (a cycle), which cannot be sent`, p);
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return;
    if (obj instanceof Date || obj instanceof RegExp) return;
    seen.add(obj);
    try {
      if (Array.isArray(obj)) {
        for (let i = 0; i < obj.length; i++) visit(obj[i], `${p}[${i}]`);
        return;
      }
      if (obj instanceof Map) {
        for (const [k, val] of obj) {
          visit(k, `${p}.<key>`);
          visit(val, `${p}.get(${typeof k === "string" ? JSON.stringify(k) : String(k)})`);
        }
        return;
      }
      if (obj instanceof Set) {
        let i = 0;
        for (const item of obj) visit(item, `${p}.<item ${i++}>`);
        return;
      }
      if (obj instanceof Error) {
        if ("cause" in obj) visit(obj.cause, `${p}.cause`);
        for (const key of Object.keys(obj))
          if (key !== "cause") visit((obj as unknown as Record<string, unknown>)[key], keyPath(p, key));
        return;
      }
      const proto = Object.getPrototypeOf(obj);
      if (proto !== Object.prototype && proto !== null && !ALLOWED_CLASSES.has(proto?.constructor)) {
        throw new PayloadError(
          `${p} is ${describe(obj)}, which cannot be sent to or from a function (send plain data)`,
          p,
        );
      }
      for (const key of Object.keys(obj)) visit((obj as Record<string, unknown>)[key], keyPath(p, key));
      if (Object.getOwnPropertySymbols(obj).length > 0) {
        throw new PayloadError(`${p} has symbol keys, which cannot be sent`, p);
      }
    } finally {
      seen.delete(obj);
    }
  };
  visit(value, path);
}

/** A value that is sent as it is: anything but an object, a function or a symbol. */
function isScalar(v: unknown): boolean {
  const t = typeof v;
  return v === null || (t !== "object" && t !== "function" && t !== "symbol");
}

/** Validates and encodes a payload (arguments or a result). */
export function encodePayload(value: unknown, path: string): Uint8Array {
  validatePayload(value, path);
  const bytes = encodeCbor(value);
  if (bytes.byteLength > MAX_PAYLOAD_BYTES) {
    throw new PayloadError(
      `${path} encodes to ${bytes.byteLength} bytes, over the ${MAX_PAYLOAD_BYTES}-byte (64 MiB) payload limit`,
      path,
    );
  }
  return bytes;
}

export function decodePayload(bytes: Uint8Array): unknown {
  return decodeCbor(bytes);
}
