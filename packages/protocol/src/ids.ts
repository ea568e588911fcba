/** Prefixed random ids ("fc-…", "in-…"): readable in logs, safe in URLs. */
export function newId(prefix: string): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return `${prefix}-${s}`;
}
