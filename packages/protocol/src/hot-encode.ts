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

const MAX_UINT32 = 0xffff_ffff;
const HAS_BUFFER = typeof Buffer === "function";

/** Bytes of a CBOR head (major type + argument) for `n` (0 .. 2^32-1). */
function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** UTF-8 length of `s`, or -1 when it is not all ASCII (then Buffer.byteLength decides). */
function asciiLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return -1;
  return s.length;
}

function stringSize(s: string): number {
  let n = asciiLength(s);
  if (n < 0) n = Buffer.byteLength(s, "utf8");
  return headSize(n) + n;
}

/** Size of `v` as CBOR, or -1 where it is not one of the values written here. */
function sizeOf(v: unknown, depth: number): number {
  switch (typeof v) {
    case "number":
      if (Number.isInteger(v)) return v >= 0 && v <= MAX_UINT32 ? headSize(v) : -1;
      // A fraction (a duration) goes as a float64, as the codec writes it.
      return Number.isFinite(v) ? 9 : -1;
    case "string":
      return stringSize(v);
    case "object": {
      if (v === null) return 1;
      if (v instanceof Uint8Array) {
        // The codec tags a Uint8Array (tag 64, two bytes) so that it decodes as one; a Buffer goes untagged.
        return (Buffer.isBuffer(v) ? 0 : 2) + headSize(v.byteLength) + v.byteLength;
      }
      if (!Array.isArray(v) || depth > 2) return -1;
      let n = headSize(v.length);
      for (const x of v) {
        const s = sizeOf(x, depth + 1);
        if (s < 0) return -1;
        n += s;
      }
      return n;
    }
  }
  return -1;
}

function writeHead(out: Buffer, at: number, major: number, n: number): number {
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
    out.writeUInt16BE(n, at + 1);
    return at + 3;
  }
  out[at] = m | 26;
  out.writeUInt32BE(n, at + 1);
  return at + 5;
}

function write(out: Buffer, at: number, v: unknown): number {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return writeHead(out, at, 0, v);
    out[at] = 0xfb;
    out.writeDoubleBE(v, at + 1);
    return at + 9;
  }
  if (typeof v === "string") {
    const n = asciiLength(v);
    if (n >= 0) {
      at = writeHead(out, at, 3, n);
      for (let i = 0; i < n; i++) out[at + i] = v.charCodeAt(i);
      return at + n;
    }
    const len = Buffer.byteLength(v, "utf8");
    at = writeHead(out, at, 3, len);
    return at + out.write(v, at, len, "utf8");
  }
  if (v === null) {
    out[at] = 0xf6;
    return at + 1;
  }
  if (v instanceof Uint8Array) {
    if (!Buffer.isBuffer(v)) {
      out[at] = 0xd8;
      out[at + 1] = 0x40;
      at += 2;
    }
    at = writeHead(out, at, 2, v.byteLength);
    out.set(v, at);
    return at + v.byteLength;
  }
  const list = v as unknown[];
  at = writeHead(out, at, 4, list.length);
  for (const x of list) at = write(out, at, x);
  return at;
}

/** `tuples` as one frame (a CBOR array of them), or undefined where one holds a value not written here. */
export function encodeHotFrame(tuples: readonly unknown[]): Uint8Array | undefined {
  if (!HAS_BUFFER) return undefined; // the codec's path, where there is no Buffer (a Worker without node compat)
  const size = sizeOf(tuples, 0);
  if (size < 0) return undefined;
  const out = Buffer.allocUnsafe(size);
  const end = write(out, 0, tuples);
  // Every byte was written: nothing of the pool's earlier contents can leave in the frame.
  if (end !== size) throw new Error(`hot frame: wrote ${end} of ${size} bytes`);
  return out;
}
