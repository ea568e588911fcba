/**
 * Size limits shared by every side of the wire. They are part of the protocol: a client
 * written in another language must respect the same numbers (docs/protocol.md).
 */

/** Largest encoded argument list or result Skiff accepts (64 MiB). */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Payloads larger than this travel through the blob store and are referenced by id. */
export const INLINE_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Blobs travel in parts of at most this many bytes (blob.put / blob.append / blob.get), so
 * neither side holds a 64 MiB payload in one message, and the server never holds it whole.
 */
export const BLOB_PART_BYTES = 4 * 1024 * 1024;

/** Largest WebSocket frame a peer may send: one payload plus room for its envelope. */
export const MAX_FRAME_BYTES = MAX_PAYLOAD_BYTES + 1024 * 1024;

/** Largest number of messages in one frame. */
export const MAX_MESSAGES_PER_FRAME = 100_000;

/** Largest bundle (the app's code) a client may upload. */
export const MAX_BUNDLE_BYTES = 32 * 1024 * 1024;

/** Items of one generator in flight (yielded, not yet taken by the consumer). */
export const GENERATOR_WINDOW = 1024;
