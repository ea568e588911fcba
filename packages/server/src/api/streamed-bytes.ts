import { encodeCbor } from "@skiff/protocol";

/** Opens the bytes to stream: their size and a reader of one chunk at a time. */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
}

/**
 * A reply whose `field` holds many bytes (a blob): the peer sends it as one WebSocket
 * message in fragments, a chunk at a time and only as fast as the reader takes them, so a
 * client asking for many large blobs holds one chunk window of server memory, not the blobs.
 * `open` runs when the reply's turn comes (one streamed reply per connection at a time);
 * it returns undefined when the bytes are gone (the request is answered not_found).
 */
export class StreamedBytes {
  constructor(
    readonly field: string,
    readonly open: () => ByteSource | undefined | Promise<ByteSource | undefined>,
    readonly missing: string,
  ) {}
}

/**
 * The frame prefix of `[{ t: "reply", id, ok: true, r: { [field]: <size bytes> } }]`: the
 * codec's own encoding of the reply with an empty byte string, whose last byte (0x40, an
 * empty byte string) is replaced by the header of a byte string of `size` bytes. The bytes
 * themselves follow. Decoded, the message equals the one encoded whole (tested).
 */
export function replyPrefix(id: number, field: string, size: number): Uint8Array {
  const whole = encodeCbor([{ t: "reply", id, ok: true, r: { [field]: new Uint8Array(0) } }]);
  if (whole[whole.byteLength - 1] !== 0x40) throw new Error("unexpected CBOR layout for a streamed reply");
  const head = byteStringHeader(size);
  const out = new Uint8Array(whole.byteLength - 1 + head.byteLength);
  out.set(whole.subarray(0, whole.byteLength - 1), 0);
  out.set(head, whole.byteLength - 1);
  return out;
}

function byteStringHeader(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0x40 + n);
  if (n < 0x100) return Uint8Array.of(0x58, n);
  if (n < 0x10000) return Uint8Array.of(0x59, n >> 8, n & 0xff);
  const b = new Uint8Array(5);
  b[0] = 0x5a;
  new DataView(b.buffer).setUint32(1, n);
  return b;
}
