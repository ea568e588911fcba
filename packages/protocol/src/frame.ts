import { decodeCbor, encodeCbor } from "./codec.js";
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

export function encodeFrame(messages: readonly Message[]): Uint8Array {
  return encodeCbor(messages);
}

/** Decodes and shape-checks one frame. Throws ProtocolError on anything malformed. */
export function decodeFrame(bytes: Uint8Array): Message[] {
  if (bytes.byteLength > MAX_FRAME_BYTES)
    throw new ProtocolError(`frame of ${bytes.byteLength} bytes exceeds ${MAX_FRAME_BYTES}`);
  let decoded: unknown;
  try {
    decoded = decodeCbor(bytes);
  } catch (err) {
    throw new ProtocolError(`frame is not valid CBOR: ${(err as Error).message}`);
  }
  if (!Array.isArray(decoded)) throw new ProtocolError("frame must be an array of messages");
  if (decoded.length > MAX_MESSAGES_PER_FRAME)
    throw new ProtocolError(`frame holds more than ${MAX_MESSAGES_PER_FRAME} messages`);
  for (const m of decoded) {
    if (m === null || typeof m !== "object" || typeof (m as { t?: unknown }).t !== "string") {
      throw new ProtocolError("every message must be an object with a string `t`");
    }
  }
  return decoded as Message[];
}
