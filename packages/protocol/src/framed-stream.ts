/**
 * The framed stream: what a container on the control plane's own host speaks on the control
 * socket instead of WebSocket (docs/protocol.md §1a). The same messages, in a plainer envelope:
 * a unix socket needs none of WebSocket's handshake, masking or opcodes, and a container start
 * then loads neither `ws` nor `node:http` and makes no HTTP upgrade (bench/start-cost.ts).
 *
 * The client writes PREAMBLE first; then each side sends frames of a 5-byte header (kind, then
 * the payload's length as a big-endian u32) and the payload:
 * - MORE: a fragment of a message, more follow; FINAL: its last fragment (or a whole message);
 * - CLOSE: a u16 close code and a UTF-8 reason (WebSocket's codes); the sender then ends.
 * A message's fragments in all may not exceed `maxPayload` (the sender is closed with 1009).
 */
export const FRAMED_PREAMBLE = new TextEncoder().encode("\0SKIFF/1");

/**
 * Where a connection's first bytes stand against the preamble: "framed" (they open with it),
 * "other" (they cannot: HTTP, say), or "undecided" (a prefix of it so far: read more).
 */
export function preambleState(head: Uint8Array): "framed" | "other" | "undecided" {
  const n = Math.min(head.byteLength, FRAMED_PREAMBLE.byteLength);
  for (let i = 0; i < n; i++) if (head[i] !== FRAMED_PREAMBLE[i]) return "other";
  return n < FRAMED_PREAMBLE.byteLength ? "undecided" : "framed";
}

/**
 * The framed stream across a network (a worker's relay to the control plane's public port,
 * docs/protocol.md §1a): an HTTP/1.1 `GET FRAMED_UPGRADE_PATH` with `Connection: Upgrade` and
 * `Upgrade: FRAMED_UPGRADE_TOKEN`; after the server's `101 Switching Protocols`, frames follow
 * both ways, with no preamble (the upgrade said what follows).
 */
export const FRAMED_UPGRADE_PATH = "/v1/framed";
export const FRAMED_UPGRADE_TOKEN = "skiff-framed/1";

export const FRAME_MORE = 0;
export const FRAME_FINAL = 1;
export const FRAME_CLOSE = 8;
export const FRAME_HEADER_BYTES = 5;

/**
 * Payloads up to this size are sent as one buffer, header and payload copied together
 * (wholeFrame): one socket write instead of a corked pair, whose writev costs more CPU in
 * Node's stream code than the copy (bench/RESULTS.md, web lane of 2026-12-08).
 */
export const WHOLE_FRAME_BYTES = 64 * 1024;

/** Node's Buffer where there is one: a socket takes it as it is (a Uint8Array is wrapped first). */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer;

/** A whole frame in one buffer: the header, then `data` (a copy). */
export function wholeFrame(kind: number, data: Uint8Array): Uint8Array {
  const n = data.byteLength;
  const out = NodeBuffer ? NodeBuffer.allocUnsafe(FRAME_HEADER_BYTES + n) : new Uint8Array(FRAME_HEADER_BYTES + n);
  putHeader(out, kind, n);
  out.set(data, FRAME_HEADER_BYTES);
  return out;
}

/** A frame's header. */
export function frameHeader(kind: number, length: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_BYTES);
  putHeader(h, kind, length);
  return h;
}

/** The header's five bytes at the start of `out`: the kind, then the payload's length (big-endian). */
function putHeader(out: Uint8Array, kind: number, length: number): void {
  out[0] = kind;
  out[1] = length >>> 24;
  out[2] = (length >>> 16) & 0xff;
  out[3] = (length >>> 8) & 0xff;
  out[4] = length & 0xff;
}

/** Where frames are written: a Node socket. */
export interface FrameWritable {
  cork(): void;
  uncork(): void;
  write(data: Uint8Array, cb?: (err?: Error | null) => void): boolean;
}

/**
 * Writes one frame: up to WHOLE_FRAME_BYTES as one buffer in one write, a larger one as its
 * header and the payload itself, corked together (no copy of a large payload).
 */
export function writeFrame(
  sink: FrameWritable,
  kind: number,
  data: Uint8Array,
  cb?: (err?: Error | null) => void,
): void {
  if (data.byteLength <= WHOLE_FRAME_BYTES) {
    sink.write(wholeFrame(kind, data), cb);
    return;
  }
  sink.cork();
  sink.write(frameHeader(kind, data.byteLength));
  sink.write(data, cb);
  sink.uncork();
}

/** A CLOSE frame, header included. */
export function closeFrame(code: number, reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason.slice(0, 120));
  const out = new Uint8Array(FRAME_HEADER_BYTES + 2 + text.byteLength);
  out.set(frameHeader(FRAME_CLOSE, 2 + text.byteLength));
  new DataView(out.buffer).setUint16(FRAME_HEADER_BYTES, code);
  out.set(text, FRAME_HEADER_BYTES + 2);
  return out;
}

/** Largest CLOSE payload read (code and a reason of at most 123 bytes, as WebSocket's). */
const MAX_CLOSE_PAYLOAD = 125;

export interface FrameSink {
  message(data: Uint8Array): void;
  close(code: number, reason: string): void;
}

/**
 * Reads frames from a byte stream, in whatever chunks they arrive. Holds at most one message
 * (its fragments until the last) and one header; a message past `maxPayload`, an unknown kind
 * or a malformed close are errors (`push` throws a FramedStreamError with the close code).
 */
export class FrameReader {
  /** The partial header or payload being read. */
  private head = new Uint8Array(FRAME_HEADER_BYTES);
  private headFill = 0;
  private kind = -1;
  private left = 0;
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  /** Fragments of the message being read. */
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private done = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxPayload: number,
  ) {}

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.byteLength && !this.done) {
      if (this.kind < 0) {
        // Byte by byte: no view of the chunk and no DataView made for each frame's 5 bytes.
        const h = this.head;
        while (this.headFill < FRAME_HEADER_BYTES && at < chunk.byteLength) h[this.headFill++] = chunk[at++]!;
        if (this.headFill < FRAME_HEADER_BYTES) return;
        this.headFill = 0;
        this.start(h[0]!, ((h[1]! << 24) | (h[2]! << 16) | (h[3]! << 8) | h[4]!) >>> 0);
        if (this.left === 0) this.end(new Uint8Array(0), true);
        continue;
      }
      const take = Math.min(this.left, chunk.byteLength - at);
      if (!this.body && take === this.left) {
        // The whole payload is in this chunk: no copy.
        this.left = 0;
        this.end(chunk.subarray(at, at + take), false);
      } else {
        this.body ??= new Uint8Array(this.left);
        this.body.set(chunk.subarray(at, at + take), this.bodyFill);
        this.bodyFill += take;
        this.left -= take;
        if (this.left === 0) {
          const body = this.body;
          this.body = undefined;
          this.bodyFill = 0;
          this.end(body, true);
        }
      }
      at += take;
    }
  }

  private start(kind: number, length: number): void {
    if (kind === FRAME_MORE || kind === FRAME_FINAL) {
      if (this.partsBytes + length > this.maxPayload)
        throw new FramedStreamError(1009, `a message over ${this.maxPayload} bytes`);
    } else if (kind === FRAME_CLOSE) {
      if (length < 2 || length > MAX_CLOSE_PAYLOAD) throw new FramedStreamError(1002, "a malformed close frame");
    } else throw new FramedStreamError(1002, `an unknown frame kind ${kind}`);
    this.kind = kind;
    this.left = length;
  }

  /** A whole payload; `owned`: not a view of the stream's chunk. */
  private end(payload: Uint8Array, owned: boolean): void {
    const kind = this.kind;
    this.kind = -1;
    if (kind === FRAME_CLOSE) {
      this.done = true;
      const code = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint16(0);
      this.sink.close(code, new TextDecoder().decode(payload.subarray(2)));
      return;
    }
    if (kind === FRAME_MORE) {
      // Kept past this chunk: a copy when it is a view of the stream's chunk.
      this.parts.push(owned ? payload : payload.slice());
      this.partsBytes += payload.byteLength;
      return;
    }
    if (this.parts.length === 0) {
      this.sink.message(payload);
      return;
    }
    const whole = new Uint8Array(this.partsBytes + payload.byteLength);
    let at = 0;
    for (const p of this.parts) {
      whole.set(p, at);
      at += p.byteLength;
    }
    whole.set(payload, at);
    this.parts = [];
    this.partsBytes = 0;
    this.sink.message(whole);
  }
}

/** A framed stream broke the protocol: close with `code`. */
export class FramedStreamError extends Error {
  override name = "FramedStreamError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
