/**
 * A frame of hot-path tuples (hot.ts) read straight from CBOR, where it holds only what the
 * hot encoder (hot-encode.ts) writes: arrays, integers 0 .. 2^32-1, float64s, ASCII strings,
 * nulls and byte strings (tagged 64 or not). It gives exactly the values the shared codec's
 * decoder gives for those bytes (cbor-x: a byte string is a view of the frame, a Buffer where
 * the frame is one, a plain Uint8Array under tag 64), without its general dispatch, its
 * per-frame DataView, or its extension lookup per byte string. Anything else (a map, another
 * tag, a negative or wider integer, a shorter float, a non-ASCII string, a bad length,
 * trailing bytes) and it gives undefined: the codec decodes the frame, and refuses it or not
 * as before. So what is accepted and refused does not change; only the cost of the common case.
 */

const f64 = new DataView(new ArrayBuffer(8));
const f64Bytes = new Uint8Array(f64.buffer);
/** Nesting past the tuples' own (frame → tuple → column → item) goes to the codec. */
const MAX_DEPTH = 3;

/** Decoding position; module state, as in the codec (decoding is synchronous). */
const EMPTY = new Uint8Array(0);
let src: Uint8Array = EMPTY;
let pos = 0;
let end = 0;
/** Set when the bytes hold something not read here. */
let miss = false;

/** The argument of a head whose low bits are `info` (0 .. 2^32-1), or -1 (indefinite, 64-bit, truncated). */
function arg(info: number): number {
  if (info < 24) return info;
  if (info === 24) {
    if (pos + 1 > end) return -1;
    return src[pos++]!;
  }
  if (info === 25) {
    if (pos + 2 > end) return -1;
    const n = (src[pos]! << 8) | src[pos + 1]!;
    pos += 2;
    return n;
  }
  if (info === 26) {
    if (pos + 4 > end) return -1;
    const n = src[pos]! * 0x1000000 + ((src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!);
    pos += 4;
    return n;
  }
  return -1;
}

/**
 * Arrays of char codes by length, reused: a string is made in one call, flat (ids are map keys).
 * Longer strings (none on the hot path: ids, keys and names are under 256) go to the codec.
 */
const CODES: number[][] = Array.from({ length: 256 }, (_, n) => new Array<number>(n).fill(0));

function str(len: number): string | undefined {
  if (len > end - pos || len >= CODES.length) return undefined;
  const codes = CODES[len]!;
  for (let i = 0; i < len; i++) {
    const c = src[pos + i]!;
    // ASCII only: where every byte is under 0x80, any UTF-8 decoder gives these char codes.
    if (c > 0x7f) return undefined;
    codes[i] = c;
  }
  pos += len;
  return String.fromCharCode.apply(null, codes);
}

function value(depth: number): unknown {
  if (pos >= end) {
    miss = true;
    return undefined;
  }
  const b = src[pos++]!;
  const major = b >> 5;
  const info = b & 0x1f;
  switch (major) {
    case 0: {
      const n = arg(info);
      if (n < 0) miss = true;
      return n;
    }
    case 2: {
      const n = arg(info);
      if (n < 0 || n > end - pos) {
        miss = true;
        return undefined;
      }
      const v = src.subarray(pos, pos + n);
      pos += n;
      return v;
    }
    case 3: {
      const n = arg(info);
      const s = n < 0 ? undefined : str(n);
      if (s === undefined) miss = true;
      return s;
    }
    case 4: {
      const n = arg(info);
      // Each item is at least a byte: a length past the bytes left is the codec's to refuse.
      if (n < 0 || n > end - pos || depth >= MAX_DEPTH) {
        miss = true;
        return undefined;
      }
      const a = new Array(n);
      for (let i = 0; i < n && !miss; i++) a[i] = value(depth + 1);
      return a;
    }
    case 6: {
      // Tag 64, one byte (0xd8 0x40), over a byte string: a Uint8Array of the same bytes.
      if (info !== 24 || pos + 2 > end || src[pos] !== 0x40 || src[pos + 1]! >> 5 !== 2) break;
      pos += 2;
      const n = arg(src[pos - 1]! & 0x1f);
      if (n < 0 || n > end - pos) break;
      const v = new Uint8Array(src.buffer, src.byteOffset + pos, n);
      pos += n;
      return v;
    }
    case 7:
      if (b === 0xf6) return null;
      if (b === 0xfb && pos + 8 <= end) {
        for (let i = 0; i < 8; i++) f64Bytes[i] = src[pos + i]!;
        pos += 8;
        return f64.getFloat64(0);
      }
      break;
  }
  miss = true;
  return undefined;
}

/**
 * `bytes` decoded, where it is an array of arrays (a frame of tuples) made only of the values
 * read here and nothing after it; otherwise undefined (the caller decodes it with the codec).
 */
export function decodeHotFrame(bytes: Uint8Array): unknown[] | undefined {
  const head = bytes[0];
  if (head === undefined || head >> 5 !== 4) return undefined;
  src = bytes;
  pos = 1;
  end = bytes.byteLength;
  miss = false;
  try {
    const n = arg(head & 0x1f);
    if (n < 0 || n > end - pos) return undefined;
    const frame = new Array(n);
    for (let i = 0; i < n; i++) {
      // Every message a tuple: an object among them sends the frame to the codec.
      if (pos >= end || src[pos]! >> 5 !== 4) return undefined;
      frame[i] = value(1);
      if (miss) return undefined;
    }
    return pos === end ? frame : undefined;
  } catch {
    return undefined; // nothing read here throws; were it to, the codec decides as before
  } finally {
    src = EMPTY;
  }
}
