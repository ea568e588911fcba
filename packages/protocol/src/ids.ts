/** Random bytes are drawn in blocks: one getRandomValues call serves hundreds of ids. */
const POOL = new Uint8Array(4096);
let offset = POOL.length;
/** Character codes of the hex digits. */
const HEX = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/**
 * Prefixed random ids ("fc-…", "in-…", 96 random bits): readable in logs, safe in URLs.
 * Made by one String.fromCharCode of all their characters: a flat string at once, where
 * appending the digits pair by pair made a chain of a dozen strings that every Map lookup had
 * to flatten first (1.2k of 3.4k instructions per id and its Map set, get and delete;
 * bench/RESULTS.md, web lane of 2026-12-08).
 */
export function newId(prefix: string): string {
  if (offset + 12 > POOL.length) {
    globalThis.crypto.getRandomValues(POOL);
    offset = 0;
  }
  const o = offset;
  offset += 12;
  const hi = (i: number) => HEX[POOL[o + i]! >> 4]!;
  const lo = (i: number) => HEX[POOL[o + i]! & 15]!;
  // Two-letter prefixes (nearly all): the whole id in one call.
  if (prefix.length === 2)
    return String.fromCharCode(
      prefix.charCodeAt(0),
      prefix.charCodeAt(1),
      45, // "-"
      hi(0),
      lo(0),
      hi(1),
      lo(1),
      hi(2),
      lo(2),
      hi(3),
      lo(3),
      hi(4),
      lo(4),
      hi(5),
      lo(5),
      hi(6),
      lo(6),
      hi(7),
      lo(7),
      hi(8),
      lo(8),
      hi(9),
      lo(9),
      hi(10),
      lo(10),
      hi(11),
      lo(11),
    );
  return (
    prefix +
    String.fromCharCode(
      45,
      hi(0),
      lo(0),
      hi(1),
      lo(1),
      hi(2),
      lo(2),
      hi(3),
      lo(3),
      hi(4),
      lo(4),
      hi(5),
      lo(5),
      hi(6),
      lo(6),
      hi(7),
      lo(7),
      hi(8),
      lo(8),
      hi(9),
      lo(9),
      hi(10),
      lo(10),
      hi(11),
      lo(11),
    )
  );
}
