import { encodeCbor, type WebRequestWire } from "@skiff/protocol";

/**
 * A web call's argument list, `[wire]`, as CBOR. A request with no inline body (the common
 * GET) is written here directly: strings, header pairs, a port and flags, in standard CBOR
 * (definite-length maps with text keys, arrays, text strings, unsigned integers, booleans),
 * which the runtime's decoder reads as it reads cbor-x's own output. cbor-x's generic walk
 * cost about as much CPU as all the rest of starting the call. A body of bytes or JSON, or
 * any field of a shape not listed here, goes through encodeCbor.
 */
export function encodeWebArgs(wire: WebRequestWire): Uint8Array {
  const kind = wire.body.kind;
  if (kind !== "none" && kind !== "stream") return encodeCbor([wire]);
  pos = 0;
  ensure(64);
  buf[pos++] = 0x81; // array of 1
  let fields = 0;
  for (const k in wire) if ((wire as unknown as Record<string, unknown>)[k] !== undefined) fields++;
  head(5, fields);
  for (const k in wire) {
    const v = (wire as unknown as Record<string, unknown>)[k];
    if (v === undefined) continue;
    text(k);
    if (typeof v === "string") text(v);
    else if (typeof v === "number") {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return encodeCbor([wire]);
      ensure(5);
      head(0, v);
    } else if (typeof v === "boolean") {
      ensure(1);
      buf[pos++] = v ? 0xf5 : 0xf4;
    } else if (k === "headers") {
      const hs = v as [string, string][];
      ensure(5);
      head(4, hs.length);
      for (const pair of hs) {
        if (typeof pair[0] !== "string" || typeof pair[1] !== "string") return encodeCbor([wire]);
        ensure(1);
        buf[pos++] = 0x82; // array of 2
        text(pair[0]);
        text(pair[1]);
      }
    } else if (k === "body" && Object.keys(v as object).length === 1) {
      ensure(1);
      buf[pos++] = 0xa1; // map of 1
      text("kind");
      text(kind);
    } else return encodeCbor([wire]);
  }
  const out = Buffer.allocUnsafe(pos);
  buf.copy(out, 0, 0, pos);
  return out;
}

/** Scratch space, reused: each call copies its bytes out. Grows with the largest request. */
let buf = Buffer.allocUnsafe(16 * 1024);
let pos = 0;

function ensure(n: number): void {
  if (pos + n <= buf.length) return;
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n));
  buf.copy(next, 0, 0, pos);
  buf = next;
}

/** A CBOR head: major type `major`, argument `n` (an unsigned integer below 2^32). */
function head(major: number, n: number): void {
  const m = major << 5;
  if (n < 24) buf[pos++] = m | n;
  else if (n < 0x100) {
    buf[pos++] = m | 24;
    buf[pos++] = n;
  } else if (n < 0x10000) {
    buf[pos++] = m | 25;
    buf.writeUInt16BE(n, pos);
    pos += 2;
  } else {
    buf[pos++] = m | 26;
    buf.writeUInt32BE(n, pos);
    pos += 4;
  }
}

/** A text string: ASCII copied by a loop (short strings: cheaper than a native call), else UTF-8. */
function text(s: string): void {
  const len = s.length;
  ensure(len * 3 + 5);
  const at = pos;
  pos += len < 24 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
  let i = 0;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    buf[pos + i] = c;
  }
  const end = pos;
  pos = at;
  if (i === len) {
    head(3, len);
    pos = end + len;
    return;
  }
  const n = Buffer.byteLength(s, "utf8");
  head(3, n);
  pos += buf.write(s, pos, "utf8");
}
