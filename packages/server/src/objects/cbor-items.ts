/**
 * Where CBOR data items end, without decoding them: queue items travel and are stored as the
 * bytes the client encoded, and a batch of them goes as one CBOR array (its header, then the
 * items one after another), which the server splits here and builds again for a get, so that
 * neither side encodes or decodes an item of its own (queue-service.ts).
 *
 * An item is accepted only if decoding it inside such an array gives what decoding it alone
 * would: exactly one well-formed item, and none of the tags through which cbor-x carries state
 * from one item to the next within a decode (shared references, packed values, records,
 * bundled strings). No encoder of Skiff writes those.
 */

/** Tags whose meaning depends on what came before them in the same decode (cbor-x). */
const STATEFUL_TAGS = new Set([28, 29, 51, 105, 0xdff9, 0xdffe, 0xdfff]);

/** What an item is refused for (undefined: it is fine). */
export type ItemFault = "malformed" | "stateful-tag";

/** Open containers of the item being scanned: items left in each (-1: indefinite). Reused. */
const open: number[] = [];

/**
 * The offset just past the one data item that starts at `at` (reading no further than `end`),
 * or the fault that stops it: cut short, a reserved or unexpected byte, an indefinite-length
 * string (cbor-x refuses those), a break outside an indefinite container, a stateful tag.
 */
export function itemEnd(b: Uint8Array, at: number, end: number): number | ItemFault {
  let pos = at;
  let depth = 0;
  let left = 1; // items still to read at the current level; -1: until a break
  let tagged = false; // a tag was read: the next item is its content, and cannot be a break
  for (;;) {
    if (left === 0) {
      if (depth === 0) return pos;
      left = open[--depth]!;
      continue;
    }
    if (pos >= end) return "malformed";
    const ib = b[pos++]!;
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai === 31) {
      if (major === 7) {
        // A break ends the indefinite container it is in, and nothing else.
        if (left !== -1 || tagged) return "malformed";
        left = open[--depth]!;
        continue;
      }
      if (major !== 4 && major !== 5) return "malformed";
      tagged = false;
      if (left > 0) left--;
      open[depth++] = left;
      left = -1;
      continue;
    }
    let arg: number;
    if (ai < 24) arg = ai;
    else if (ai === 24) {
      if (pos + 1 > end) return "malformed";
      arg = b[pos]!;
      pos += 1;
    } else if (ai === 25) {
      if (pos + 2 > end) return "malformed";
      arg = (b[pos]! << 8) | b[pos + 1]!;
      pos += 2;
    } else if (ai === 26) {
      if (pos + 4 > end) return "malformed";
      arg = b[pos]! * 0x1000000 + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!);
      pos += 4;
    } else if (ai === 27) {
      if (pos + 8 > end) return "malformed";
      // Past 2^53 the value is not exact, but it is then past any length that can be here,
      // and no tag of STATEFUL_TAGS is that large.
      const hi = b[pos]! * 0x1000000 + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!);
      const lo = b[pos + 4]! * 0x1000000 + ((b[pos + 5]! << 16) | (b[pos + 6]! << 8) | b[pos + 7]!);
      arg = hi * 0x100000000 + lo;
      pos += 8;
    } else return "malformed"; // 28–30 are reserved
    if (major !== 6) tagged = false;
    switch (major) {
      case 2:
      case 3:
        if (arg > end - pos) return "malformed";
        pos += arg;
        break;
      case 4:
      case 5: {
        const items = major === 4 ? arg : 2 * arg;
        // Each item is at least a byte: a count past what is left cannot be met.
        if (items > end - pos) return "malformed";
        if (left > 0) left--;
        if (items > 0) {
          open[depth++] = left;
          left = items;
        }
        continue;
      }
      case 6:
        if (STATEFUL_TAGS.has(arg)) return "stateful-tag";
        tagged = true;
        continue; // the tagged item fills this slot
      default:
        // 0, 1: integers; 7: simple values and floats
        break;
    }
    if (left > 0) left--;
  }
}

/**
 * Where the items of `bytes`, a definite-length CBOR array, start (the first; each next one
 * where the one before ends) and end; or a message saying what is wrong (naming the item, as
 * `values[i]`).
 */
export function splitItems(bytes: Uint8Array): { start: number; ends: number[] } | string {
  const end = bytes.byteLength;
  if (end === 0) return "items is empty: it must be a CBOR array of items";
  const ib = bytes[0]!;
  if (ib >> 5 !== 4 || (ib & 31) === 31 || (ib & 31) > 27) return "items must be a CBOR array of definite length";
  let pos = 1;
  let n: number;
  const ai = ib & 31;
  if (ai < 24) n = ai;
  else {
    const size = 1 << (ai - 24);
    if (size > 4 || pos + size > end) return "items has a malformed array header";
    n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + bytes[pos + i]!;
    pos += size;
  }
  if (n > end - pos) return "items is cut short";
  const start = pos;
  const ends: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const e = itemEnd(bytes, pos, end);
    if (typeof e !== "number") return faultMessage(e, i);
    ends[i] = e;
    pos = e;
  }
  if (pos !== end) return `items has ${end - pos} bytes after its ${n} items`;
  return { start, ends };
}

/** Whether `v` is exactly one acceptable item; a message naming `values[i]` if not. */
export function checkItem(v: Uint8Array, i: number): string | undefined {
  const e = itemEnd(v, 0, v.byteLength);
  if (typeof e !== "number") return faultMessage(e, i);
  if (e !== v.byteLength)
    return `values[${i}] holds more than one CBOR data item (${v.byteLength - e} bytes after the first)`;
  return undefined;
}

function faultMessage(f: ItemFault, i: number): string {
  return f === "stateful-tag"
    ? `values[${i}] uses a CBOR tag that refers to other items (shared references, packed values, records): encode each item on its own`
    : `values[${i}] is not one well-formed CBOR data item`;
}

/** A CBOR array header for n items. */
export function arrayHeader(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0x80 | n);
  if (n < 0x100) return Uint8Array.of(0x98, n);
  if (n < 0x10000) return Uint8Array.of(0x99, n >> 8, n & 0xff);
  return Uint8Array.of(0x9a, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}
