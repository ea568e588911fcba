/**
 * A frame of hot-path tuples (hot.ts) written straight to CBOR, the same bytes the shared
 * codec writes for them. The codec's general encoder walks each value through its type
 * switch; on a server with many message shapes in flight its call sites go megamorphic, and
 * encoding the two small frames of a warm `.remote` cost the server about as much as all the
 * engine's work on the call. The tuples hold arrays, integers (0 .. 2^32-1), fractions,
 * strings, nulls and byte strings, written here in one pass with their size known beforehand.
 * Anything else in the frame (a blob reference, packed payloads, a larger or negative
 * integer, an object) and this returns undefined: the codec writes that frame.
 */

/** Node's Buffer, where there is one: the codec writes a Buffer untagged (it decodes as one). */
const NodeBuffer = (globalThis as { Buffer?: { prototype: object; allocUnsafe(n: number): Uint8Array } }).Buffer;
const utf8 = new TextEncoder();
const f64 = new DataView(new ArrayBuffer(8));

/** 1 for a Uint8Array (tag 64 first, so that it decodes as one), 0 for a Buffer, -1 for another kind. */
function tagSize(v: Uint8Array): number {
  const proto = Object.getPrototypeOf(v);
  return proto === Uint8Array.prototype ? 2 : NodeBuffer && proto === NodeBuffer.prototype ? 0 : -1;
}

/** Bytes of a CBOR head (major type + argument) for `n` (0 .. 2^32-1). */
function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** UTF-8 length of `s`, or -1 when it is not all ASCII. */
function asciiLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return -1;
  return s.length;
}

/** Size of `v` as CBOR, or -1 where it is not one of the values written here. */
function sizeOf(v: unknown, depth: number): number {
  if (typeof v === "number") {
    if (v >>> 0 === v) return headSize(v); // an integer 0 .. 2^32-1
    if (Number.isInteger(v)) return -1;
    // A fraction (a duration) goes as a float64, as the codec writes it.
    return Number.isFinite(v) ? 9 : -1;
  }
  if (typeof v === "string") {
    const n = asciiLength(v);
    if (n >= 0) return headSize(n) + n;
    const len = utf8.encode(v).byteLength;
    return headSize(len) + len;
  }
  if (typeof v !== "object") return -1;
  if (v === null) return 1;
  if (Array.isArray(v)) {
    if (depth > 2) return -1;
    let n = headSize(v.length);
    for (let i = 0; i < v.length; i++) {
      const s = sizeOf(v[i], depth + 1);
      if (s < 0) return -1;
      n += s;
    }
    return n;
  }
  if (!(v instanceof Uint8Array)) return -1;
  const tag = tagSize(v);
  return tag < 0 ? -1 : tag + headSize(v.byteLength) + v.byteLength;
}

function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = m | 26;
  out[at + 1] = n >>> 24;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 8) & 0xff;
  out[at + 4] = n & 0xff;
  return at + 5;
}

function write(out: Uint8Array, at: number, v: unknown): number {
  if (typeof v === "number") {
    if (v >>> 0 === v) return writeHead(out, at, 0, v);
    out[at] = 0xfb;
    f64.setFloat64(0, v);
    for (let i = 0; i < 8; i++) out[at + 1 + i] = f64.getUint8(i);
    return at + 9;
  }
  if (typeof v === "string") {
    const n = asciiLength(v);
    if (n >= 0) {
      at = writeHead(out, at, 3, n);
      for (let i = 0; i < n; i++) out[at + i] = v.charCodeAt(i);
      return at + n;
    }
    const b = utf8.encode(v);
    at = writeHead(out, at, 3, b.byteLength);
    out.set(b, at);
    return at + b.byteLength;
  }
  if (v === null) {
    out[at] = 0xf6;
    return at + 1;
  }
  if (Array.isArray(v)) {
    at = writeHead(out, at, 4, v.length);
    for (let i = 0; i < v.length; i++) at = write(out, at, v[i]);
    return at;
  }
  const bytes = v as Uint8Array;
  if (tagSize(bytes) > 0) {
    out[at] = 0xd8;
    out[at + 1] = 0x40;
    at += 2;
  }
  at = writeHead(out, at, 2, bytes.byteLength);
  if (bytes.byteLength < 64) for (let i = 0; i < bytes.byteLength; i++) out[at + i] = bytes[i]!;
  else out.set(bytes, at);
  return at + bytes.byteLength;
}

/** `tuples` as one frame (a CBOR array of them), or undefined where one holds a value not written here. */
export function encodeHotFrame(tuples: readonly unknown[]): Uint8Array | undefined {
  const size = sizeOf(tuples, 0);
  if (size < 0) return undefined;
  // A slice of Node's pool where there is one: a Uint8Array past 64 bytes has a backing store
  // of its own, microseconds to make.
  const out = NodeBuffer ? NodeBuffer.allocUnsafe(size) : new Uint8Array(size);
  const end = write(out, 0, tuples);
  // Every byte was written: nothing of the pool's earlier contents can leave in the frame.
  if (end !== size) throw new Error(`hot frame: wrote ${end} of ${size} bytes`);
  return out;
}
