/** Random bytes are drawn in blocks: one getRandomValues call serves hundreds of ids. */
const POOL = new Uint8Array(4096);
let offset = POOL.length;
/** Character codes of the hex digits. */
const HEX = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/**
 * Prefixed random ids ("fc-…", "in-…", 96 random bits): readable in logs, safe in URLs.
 * The digits are made by one String.fromCharCode: a flat string at once, where
 * appending the digits pair by pair made a chain of a dozen strings that every Map lookup had
 * to flatten first (1.0k of 3.4k instructions per id and its Map set, get and delete;
 * bench/RESULTS.md, web lane of 2026-12-08).
 */
export function newId(prefix: string): string {
  if (offset + 12 > POOL.length) {
    globalThis.crypto.getRandomValues(POOL);
    offset = 0;
  }
  const p = POOL;
  const o = offset;
  offset += 12;
  // Written out, with no helper closure: the CLI bundle keeps function names (esbuild
  // keepNames), which names each closure as it is made, a defineProperty each.
  const digits = String.fromCharCode(
    HEX[p[o]! >> 4]!,
    HEX[p[o]! & 15]!,
    HEX[p[o + 1]! >> 4]!,
    HEX[p[o + 1]! & 15]!,
    HEX[p[o + 2]! >> 4]!,
    HEX[p[o + 2]! & 15]!,
    HEX[p[o + 3]! >> 4]!,
    HEX[p[o + 3]! & 15]!,
    HEX[p[o + 4]! >> 4]!,
    HEX[p[o + 4]! & 15]!,
    HEX[p[o + 5]! >> 4]!,
    HEX[p[o + 5]! & 15]!,
    HEX[p[o + 6]! >> 4]!,
    HEX[p[o + 6]! & 15]!,
    HEX[p[o + 7]! >> 4]!,
    HEX[p[o + 7]! & 15]!,
    HEX[p[o + 8]! >> 4]!,
    HEX[p[o + 8]! & 15]!,
    HEX[p[o + 9]! >> 4]!,
    HEX[p[o + 9]! & 15]!,
    HEX[p[o + 10]! >> 4]!,
    HEX[p[o + 10]! & 15]!,
    HEX[p[o + 11]! >> 4]!,
    HEX[p[o + 11]! & 15]!,
  );
  return `${prefix}-${digits}`;
}
