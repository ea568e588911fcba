import type { Payload } from "./messages.js";

/**
 * Inline payloads of a column end to end, with each one's length. CBOR encodes a byte string
 * per payload through its extension lookup (a fraction of a microsecond each, per side, per
 * input at map rates); one byte string and an array of small integers cost a third of that.
 * The receiver takes each back as a view of the one it decoded (no copy).
 */
export interface PackedPayloads {
  bytes: Uint8Array;
  lens: number[];
}

/** `list` packed, or itself when any is a blob reference (or there are too few to gain). */
export function packPayloads(list: Payload[]): Payload[] | PackedPayloads {
  if (list.length < 2) return list;
  let total = 0;
  const lens: number[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    if (!(p instanceof Uint8Array)) return list;
    lens[i] = p.byteLength;
    total += p.byteLength;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < list.length; i++) {
    bytes.set(list[i] as Uint8Array, at);
    at += lens[i]!;
  }
  return { bytes, lens };
}

/**
 * A column of payloads as sent (a list, or packed), as a list of `n`; undefined when it is
 * neither, or its lengths do not add up to its bytes (a peer's bad frame: the caller refuses it).
 * A list's entries are not checked here, as before packing.
 */
export function unpackPayloads(col: unknown, n: number): Payload[] | undefined {
  if (Array.isArray(col)) return col.length === n ? (col as Payload[]) : undefined;
  if (typeof col !== "object" || col === null) return undefined;
  const { bytes, lens } = col as Partial<PackedPayloads>;
  if (!(bytes instanceof Uint8Array) || !Array.isArray(lens) || lens.length !== n) return undefined;
  const out: Uint8Array[] = new Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const len = lens[i];
    if (typeof len !== "number" || !Number.isInteger(len) || len < 0 || at + len > bytes.byteLength) return undefined;
    out[i] = bytes.subarray(at, at + len);
    at += len;
  }
  return at === bytes.byteLength ? out : undefined;
}
