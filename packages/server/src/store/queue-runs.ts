import type { QueueItemRow, QueueItems, QueueRun } from "./object-store.js";

/**
 * Runs of queue items in one row (migration 155): n = 1 keeps the item as it is; n > 1 is
 * n little-endian u32 lengths, then the items one after another. A take hands out the runs
 * themselves (QueueRun), whose items a get sends on back to back without touching each.
 */

/** Most items in one run. */
export const RUN_MAX_ITEMS = 256;
/**
 * Most bytes of items in one run (an item larger than this is a run of its own). A get of
 * fewer items than a run holds splits it, rewriting what is left: this bounds that rewrite.
 */
export const RUN_MAX_BYTES = 8192;

/** A list of items as one put's QueueItems (a copy of them, back to back). */
export function itemsOf(list: Uint8Array[]): QueueItems {
  let total = 0;
  for (const v of list) total += v.byteLength;
  const bytes = new Uint8Array(total);
  const ends: number[] = new Array(list.length);
  let at = 0;
  for (let i = 0; i < list.length; i++) {
    bytes.set(list[i]!, at);
    at += list[i]!.byteLength;
    ends[i] = at;
  }
  return { bytes, start: 0, ends };
}

/** Where item i of `items` starts. */
export const itemStart = (items: QueueItems, i: number): number => (i === 0 ? items.start : items.ends[i - 1]!);

/** Item i of `items` (a view). */
export function itemAt(items: QueueItems, i: number): Uint8Array {
  return items.bytes.subarray(itemStart(items, i), items.ends[i]);
}

/** [start, end) of each run `items` is written as, in order. */
export function runsOf(items: QueueItems): [number, number][] {
  const { ends } = items;
  const runs: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  let prev = items.start;
  for (let i = 0; i < ends.length; i++) {
    const size = ends[i]! - prev;
    prev = ends[i]!;
    if (i > start && (i - start >= RUN_MAX_ITEMS || bytes + size > RUN_MAX_BYTES)) {
      runs.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (ends.length > start) runs.push([start, ends.length]);
  return runs;
}

/** The stored form of items [start, end): their lengths, then their bytes in one copy. */
export function encodeRun(items: QueueItems, start: number, end: number): Buffer {
  const n = end - start;
  const from = itemStart(items, start);
  const to = items.ends[end - 1]!;
  const b = items.bytes;
  if (n === 1) return Buffer.from(b.buffer, b.byteOffset + from, to - from);
  const out = Buffer.allocUnsafe(4 * n + (to - from));
  let prev = from;
  for (let i = 0; i < n; i++) {
    const e = items.ends[start + i]!;
    writeU32(out, 4 * i, e - prev);
    prev = e;
  }
  out.set(b.subarray(from, to), 4 * n);
  return out;
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = v >>> 24;
}

const readU32 = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** The n items of a stored run, as views of `value`. Throws on a run that does not add up. */
export function decodeRun(value: Uint8Array, n: number): Uint8Array[] {
  if (n === 1) return [value];
  const items: Uint8Array[] = new Array(n);
  let at = 4 * n;
  for (let i = 0; i < n; i++) {
    const len = readU32(value, 4 * i);
    if (at + len > value.byteLength) throw new Error(`queue run of ${n} items is cut short at item ${i}`);
    items[i] = value.subarray(at, at + len);
    at += len;
  }
  if (at !== value.byteLength) throw new Error(`queue run of ${n} items has ${value.byteLength - at} bytes left over`);
  return items;
}

/** A run's items back to back (a view): what a get sends of them. */
export function runBody(run: QueueRun): Uint8Array {
  return run.n === 1 ? run.value : run.value.subarray(4 * run.n);
}

/** A stored run of n items cut after its first `keep` (0 < keep < n): the two runs' values. */
export function splitRun(value: Uint8Array, n: number, keep: number): [Buffer, Buffer] {
  let headBytes = 0;
  for (let i = 0; i < keep; i++) headBytes += readU32(value, 4 * i);
  const body = 4 * n;
  if (body + headBytes > value.byteLength) throw new Error(`queue run of ${n} items is cut short`);
  const part = (from: number, to: number, bytesFrom: number, bytesTo: number): Buffer => {
    if (to - from === 1) return Buffer.from(value.subarray(bytesFrom, bytesTo));
    const out = Buffer.allocUnsafe(4 * (to - from) + (bytesTo - bytesFrom));
    out.set(value.subarray(4 * from, 4 * to), 0);
    out.set(value.subarray(bytesFrom, bytesTo), 4 * (to - from));
    return out;
  };
  return [part(0, keep, body, body + headBytes), part(keep, n, body + headBytes, value.byteLength)];
}

/** Runs as one row per item (the seq of each is its id). */
export function rowsOf(runs: QueueRun[]): QueueItemRow[] {
  const rows: QueueItemRow[] = [];
  for (const r of runs) {
    const values = decodeRun(r.value, r.n);
    for (let i = 0; i < values.length; i++) rows.push({ id: r.seq + i, value: values[i]! });
  }
  return rows;
}
