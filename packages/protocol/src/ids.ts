/** Random bytes are drawn in blocks: one getRandomValues call serves hundreds of ids. */
const POOL = new Uint8Array(4096);
let offset = POOL.length;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Prefixed random ids ("fc-…", "in-…", 96 random bits): readable in logs, safe in URLs. */
export function newId(prefix: string): string {
  if (offset + 12 > POOL.length) {
    globalThis.crypto.getRandomValues(POOL);
    offset = 0;
  }
  let s = `${prefix}-`;
  for (let i = 0; i < 12; i++) s += HEX[POOL[offset + i]!];
  offset += 12;
  return s;
}
