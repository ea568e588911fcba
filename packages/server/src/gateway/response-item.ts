import { decodePayload } from "@skiff/protocol";

/**
 * A web call's item (the handler's response head, a body chunk), decoded. The common shapes
 * are read here directly, as cbor-x writes them in the container: a response head (a map with
 * text keys among status, statusText, headers, body and end; ASCII header pairs; the body a
 * tagged byte string) or a body chunk (a tagged byte string). cbor-x's generic decode of a head
 * cost about as much as the rest of the answer's way to the client (bench/RESULTS.md, web lane
 * of 2026-12-08). Anything else, or anything unexpected on the way, goes to decodePayload, so
 * both give the same value. Byte strings are views of `bytes`, as cbor-x's are.
 */
export function decodeWebItem(bytes: Uint8Array): unknown {
  src = bytes;
  at = 0;
  const v = bytes[0] === 0xd8 ? tagged() : head();
  const whole = v !== FALLBACK && at === bytes.byteLength;
  src = EMPTY; // not kept past the call
  return whole ? v : decodePayload(bytes);
}

/** Returned by a reader that met something it does not read: the item goes to cbor-x. */
const FALLBACK = Symbol("fallback");

const EMPTY = new Uint8Array();
let src: Uint8Array = EMPTY;
let at = 0;

/** The argument of a head byte of major type `major`; -1 if it is not one this reads. */
function arg(major: number): number {
  const b = src[at++];
  if (b === undefined || b >> 5 !== major) return -1;
  const info = b & 0x1f;
  if (info < 24) return info;
  if (info === 24) return at < src.byteLength ? src[at++]! : -1;
  if (info === 25) {
    if (at + 2 > src.byteLength) return -1;
    const n = (src[at]! << 8) | src[at + 1]!;
    at += 2;
    return n;
  }
  if (info === 26) {
    if (at + 4 > src.byteLength) return -1;
    const n = ((src[at]! << 24) | (src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!) >>> 0;
    at += 4;
    return n;
  }
  return -1;
}

/** An ASCII text string; undefined for anything else (UTF-8 is left to cbor-x). */
function ascii(): string | undefined {
  const n = arg(3);
  if (n < 0 || at + n > src.byteLength) return undefined;
  let s = "";
  for (let i = at; i < at + n; i++) {
    const c = src[i]!;
    if (c >= 0x80) return undefined;
    s += String.fromCharCode(c);
  }
  at += n;
  return s;
}

/** A Uint8Array as cbor-x writes one with tagUint8Array: tag 64, then a byte string. */
function tagged(): Uint8Array | typeof FALLBACK {
  if (src[at] !== 0xd8 || src[at + 1] !== 0x40) return FALLBACK;
  at += 2;
  const n = arg(2);
  if (n < 0 || at + n > src.byteLength) return FALLBACK;
  const out = new Uint8Array(src.buffer, src.byteOffset + at, n);
  at += n;
  return out;
}

/** A response head: { status, statusText?, headers, body?, end? }. */
function head(): Record<string, unknown> | typeof FALLBACK {
  const fields = arg(5);
  if (fields < 0) return FALLBACK;
  const h: Record<string, unknown> = {};
  for (let f = 0; f < fields; f++) {
    const key = ascii();
    if (key === "status") {
      const n = arg(0);
      if (n < 0) return FALLBACK;
      h.status = n;
    } else if (key === "statusText") {
      const s = ascii();
      if (s === undefined) return FALLBACK;
      h.statusText = s;
    } else if (key === "headers") {
      const n = arg(4);
      if (n < 0) return FALLBACK;
      const pairs: [string, string][] = [];
      for (let i = 0; i < n; i++) {
        if (src[at++] !== 0x82) return FALLBACK; // an array of 2
        const k = ascii();
        if (k === undefined) return FALLBACK;
        const v = ascii();
        if (v === undefined) return FALLBACK;
        pairs.push([k, v]);
      }
      h.headers = pairs;
    } else if (key === "body") {
      const b = tagged();
      if (b === FALLBACK) return FALLBACK;
      h.body = b;
    } else if (key === "end") {
      const b = src[at++];
      if (b !== 0xf5 && b !== 0xf4) return FALLBACK;
      h.end = b === 0xf5;
    } else return FALLBACK;
  }
  return h;
}
