/**
 * Results as JSON for the HTTP API. CBOR keeps JavaScript types; JSON cannot, so: bigint →
 * decimal string, Map → object, Set → array, bytes → base64 string, undefined → null,
 * Error → { name, message }, Date → ISO string, RegExp → its source text.
 */
export function toJsonValue(v: unknown, depth = 0): unknown {
  if (depth > 256) return null;
  if (v === undefined || v === null) return null;
  if (typeof v === "bigint") return v.toString();
  if (typeof v !== "object") return typeof v === "number" && !Number.isFinite(v) ? String(v) : v;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof RegExp) return String(v);
  if (v instanceof Error) return { name: v.name, message: v.message };
  if (ArrayBuffer.isView(v)) {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
    return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => toJsonValue(x, depth + 1));
  }
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = toJsonValue(x, depth + 1);
    return o;
  }
  if (v instanceof Set || Array.isArray(v)) return Array.from(v, (x) => toJsonValue(x, depth + 1));
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) o[k] = toJsonValue(x, depth + 1);
  return o;
}
