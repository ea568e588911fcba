/**
 * Large payloads and app bundles, content-addressed: a blob's id is `bl-` and the sha256 hex
 * of its bytes, so writing the same bytes twice is harmless. Kept apart from the Store (the
 * database holds ids only): blobs are big, written once, read in parts and deleted by the
 * sweeper (blob-sweeper.ts) once nothing refers to them.
 *
 * Durability: `put` and an upload's `finish` resolve once the blob is on disk, so a reply
 * naming the id may be sent right after. Writing a blob that exists refreshes its age, so a
 * sweep does not take it while a new reference to it is being written.
 */
export interface BlobStore {
  /** A blob written in parts; its id is known at `finish`. */
  begin(): BlobUpload;
  /** A blob written at once (small ones, and bytes already in memory). */
  put(data: Uint8Array): Promise<string>;
  /** The blob's size in bytes, or undefined when there is no such blob. */
  size(id: string): Promise<number | undefined>;
  /** Up to `length` bytes from `offset` (fewer at the end); undefined when there is no such blob. */
  read(id: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /** The whole blob (bundles, and payloads the server itself decodes); undefined when absent. */
  get(id: string): Promise<Uint8Array | undefined>;
  /** Ids of blobs last written before `before` (ms since epoch), in batches. */
  listOlderThan(before: number): AsyncIterable<string[]>;
  /** Deletes a blob unless it was written again at or after `unlessWrittenSince` (a sweep's cutoff). */
  delete(id: string, unlessWrittenSince?: number): Promise<void>;
  /** Bytes and count of blobs held (for operators and tests). */
  usage(): Promise<{ blobs: number; bytes: number }>;
}

export interface BlobUpload {
  /** Bytes written so far. */
  readonly size: number;
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the blob durable and returns its id. */
  finish(): Promise<string>;
  /** Drops what was written (a cancelled or cut-off upload). */
  abort(): Promise<void>;
}

/** The id a blob of these bytes gets: "bl-" + sha256 hex. */
export const BLOB_ID = /^bl-[0-9a-f]{64}$/;
