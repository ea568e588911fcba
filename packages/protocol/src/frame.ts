import { decodeCbor, encodeCbor } from "./codec.js";
import { fromHot, type Outgoing, pushHot } from "./hot.js";
import { decodeHotFrame } from "./hot-decode.js";
import { encodeHotFrame } from "./hot-encode.js";
import { MAX_FRAME_BYTES, MAX_MESSAGES_PER_FRAME } from "./limits.js";
import type { Message } from "./messages.js";

/** A frame that does not follow the protocol. The receiver closes the connection. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** WebSocket close code for protocol violations (1002 = protocol error). */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** WebSocket close code for a failed hello (4401, application range). */
export const CLOSE_UNAUTHENTICATED = 4401;

export function encodeFrame(messages: readonly (Message | Outgoing)[]): Uint8Array {
  return encodeCbor(messages);
}

/** Most messages a sender puts in one frame. */
const BATCH = 2000;

/**
 * Encodes a batch as one frame or, when it would break a limit (message count, frame size),
 * as several. A single message larger than the frame limit is still returned, and the peer
 * closes the connection (1009): payloads are bounded well below that.
 * `hot`: the peer reads hot frames (hot.ts), and the hot path's messages go as tuples.
 */
export function encodeFrames(batch: readonly Outgoing[], hot = false): Uint8Array[] {
  let messages = batch;
  if (hot) {
    const list: Outgoing[] = [];
    for (const m of batch) pushHot(list, m);
    // Tuples only (a turn of warm `.remote`s): written directly, not through the codec.
    const frame = list.length <= BATCH ? encodeHotFrame(list) : undefined;
    if (frame && frame.byteLength <= MAX_FRAME_BYTES) return [frame];
    messages = list;
  }
  // The common case, one frame: no copy of the batch and no closure (the container runtime's
  // bundle keeps function names, which names a closure each time one is made).
  if (messages.length <= BATCH) {
    const frame = encodeFrame(messages);
    if (frame.byteLength <= MAX_FRAME_BYTES || messages.length <= 1) return [frame];
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < messages.length; i += BATCH) addFrames(out, messages.slice(i, i + BATCH));
  return out;
}

/** Encodes `msgs` into `out` as one frame, or halves that each fit the frame limit. */
function addFrames(out: Uint8Array[], msgs: readonly Outgoing[]): void {
  const frame = encodeFrame(msgs);
  if (frame.byteLength > MAX_FRAME_BYTES && msgs.length > 1) {
    const mid = msgs.length >> 1;
    addFrames(out, msgs.slice(0, mid));
    addFrames(out, msgs.slice(mid));
  } else out.push(frame);
}

/**
 * Decodes and shape-checks one frame. Throws ProtocolError on anything malformed. `hot`: the
 * connection agreed on hot-path tuples (hot.ts), which are taken as the messages they stand
 * for; otherwise a tuple is refused, as a peer from before them refuses it.
 */
export function decodeFrame(bytes: Uint8Array, hot = false): Message[] {
  if (bytes.byteLength > MAX_FRAME_BYTES)
    throw new ProtocolError(`frame of ${bytes.byteLength} bytes exceeds ${MAX_FRAME_BYTES}`);
  // A frame of tuples only (a turn of warm `.remote`s) is read directly; the codec reads the
  // rest, and refuses what is not CBOR (hot-decode.ts reads nothing the codec would refuse).
  let decoded: unknown = hot ? decodeHotFrame(bytes) : undefined;
  if (decoded === undefined) {
    try {
      decoded = decodeCbor(bytes);
    } catch (err) {
      throw new ProtocolError(`frame is not valid CBOR: ${(err as Error).message}`);
    }
  }
  if (!Array.isArray(decoded)) throw new ProtocolError("frame must be an array of messages");
  if (decoded.length > MAX_MESSAGES_PER_FRAME)
    throw new ProtocolError(`frame holds more than ${MAX_MESSAGES_PER_FRAME} messages`);
  for (let i = 0; i < decoded.length; i++) {
    const m: unknown = decoded[i];
    if (hot && Array.isArray(m)) {
      // A hot-path tuple (hot.ts), as the message it stands for.
      const msg = fromHot(m);
      if (typeof msg === "string") throw new ProtocolError(msg);
      decoded[i] = msg;
    } else if (m === null || typeof m !== "object" || typeof (m as { t?: unknown }).t !== "string") {
      throw new ProtocolError("every message must be an object with a string `t`");
    }
  }
  return decoded as Message[];
}
