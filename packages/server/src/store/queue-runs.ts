/**
 * Runs of queue items in one row (migration 155): n = 1 keeps the item as it is; n > 1 is
 * n little-endian u32 lengths, then the items one after another. Reading a run hands out
 * views of the row's bytes, no copies.
 */

/** Most items in one run. */
export const RUN_MAX_ITEMS = 256;
/**
 * Most bytes of items in one run (an item larger than this is a run of its own). A get of
 * fewer items than a run holds splits it, rewriting what is left: this bounds that rewrite.
 */
export const RUN_MAX_BYTES = 8192;

/** [start, end) of each run `values` is written as, in order. */
export function runsOf(values: Uint8Array[]): [number, number][] {
  const runs: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < values.length; i++) {
    const size = values[i]!.byteLength;
    if (i > start && (i - start >= RUN_MAX_ITEMS || bytes + size > RUN_MAX_BYTES)) {
      runs.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (values.length > start) runs.push([start, values.length]);
  return runs;
}

/** The stored form of values[start, end). */
export function encodeRun(values: Uint8Array[], start = 0, end = values.length): Buffer {
  const n = end - start;
  if (n === 1) {
    const v = values[start]!;
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  let total = 4 * n;
  for (let i = start; i < end; i++) total += values[i]!.byteLength;
  const out = Buffer.allocUnsafe(total);
  let at = 4 * n;
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    out.writeUInt32LE(v.byteLength, 4 * (i - start));
    out.set(v, at);
    at += v.byteLength;
  }
  return out;
}

/** The n items of a stored run, as views of `value`. Throws on a run that does not add up. */
export function decodeRun(value: Uint8Array, n: number): Uint8Array[] {
  if (n === 1) return [value];
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const items: Uint8Array[] = new Array(n);
  let at = 4 * n;
  for (let i = 0; i < n; i++) {
    const len = view.getUint32(4 * i, true);
    if (at + len > value.byteLength) throw new Error(`queue run of ${n} items is cut short at item ${i}`);
    items[i] = value.subarray(at, at + len);
    at += len;
  }
  if (at !== value.byteLength) throw new Error(`queue run of ${n} items has ${value.byteLength - at} bytes left over`);
  return items;
}
