import { BLOB_PART_BYTES, MAX_BUNDLE_BYTES, MAX_PAYLOAD_BYTES, type RequestParams } from "@skiff/protocol";
import type { BlobStore, BlobUpload } from "../store/blobs/blob-store.js";
import { ApiError, invalid, notFound } from "./api-error.js";
import type { Peer } from "./peer.js";
import { bytes, num, str } from "./validate.js";

/** Uploads one connection may have open at once. */
const MAX_OPEN_UPLOADS = 8;
/** An upload with no part for this long is dropped. */
const UPLOAD_IDLE_MS = 5 * 60_000;
/** The largest blob: a payload or a bundle. */
const MAX_BLOB_BYTES = Math.max(MAX_PAYLOAD_BYTES, MAX_BUNDLE_BYTES);

interface OpenUpload {
  upload: BlobUpload;
  timer: NodeJS.Timeout | undefined;
  /** Parts are written one at a time, in order. */
  busy: boolean;
}

/**
 * blob.put / blob.append / blob.get (docs/protocol.md): blobs travel in parts of at most
 * BLOB_PART_BYTES and go to the BlobStore part by part, so the server never holds a whole
 * large payload. An upload belongs to its connection: when the connection closes, it is
 * dropped (the SDK starts it again).
 */
export class BlobTransfer {
  private readonly uploads = new WeakMap<Peer, Map<string, OpenUpload>>();

  constructor(private readonly blobs: BlobStore) {}

  private open(peer: Peer): Map<string, OpenUpload> {
    let m = this.uploads.get(peer);
    if (!m) {
      const map = new Map<string, OpenUpload>();
      m = map;
      this.uploads.set(peer, map);
      peer.cleanups.add(() => {
        for (const [id, u] of map) this.drop(map, id, u);
      });
    }
    return m;
  }

  private drop(map: Map<string, OpenUpload>, id: string, u: OpenUpload): void {
    clearTimeout(u.timer);
    map.delete(id);
    u.upload.abort().catch(() => {});
  }

  private part(p: Record<string, unknown>): Uint8Array {
    const data = bytes(p, "data", MAX_BLOB_BYTES);
    if (data.byteLength > BLOB_PART_BYTES)
      throw invalid(`a blob part is at most ${BLOB_PART_BYTES} bytes: send larger blobs in parts with blob.append`);
    return data;
  }

  async append(peer: Peer, params: RequestParams<"blob.append">): Promise<Record<string, never>> {
    const p = params as unknown as Record<string, unknown>;
    const uploadId = str(p, "uploadId", { max: 64 });
    const offset = num(p, "offset", { min: 0, max: MAX_BLOB_BYTES });
    const data = this.part(p);
    const map = this.open(peer);
    let u = map.get(uploadId);
    if (!u) {
      if (offset !== 0) throw notFound(`upload ${uploadId} is gone (the connection was lost): start it again`);
      if (map.size >= MAX_OPEN_UPLOADS)
        throw new ApiError("failed_precondition", `at most ${MAX_OPEN_UPLOADS} uploads at once per connection`);
      const fresh: OpenUpload = { upload: this.blobs.begin(), timer: undefined, busy: false };
      map.set(uploadId, fresh);
      u = fresh;
    }
    const cur = u;
    if (cur.busy) throw invalid(`upload ${uploadId}: send its parts one at a time`);
    // A resend of the last part (its reply was lost with a reconnect) is answered again.
    if (offset + data.byteLength === cur.upload.size && offset < cur.upload.size) return {};
    if (offset !== cur.upload.size)
      throw invalid(`upload ${uploadId}: part at offset ${offset}, but ${cur.upload.size} bytes were received`);
    if (offset + data.byteLength > MAX_BLOB_BYTES) {
      this.drop(map, uploadId, cur);
      throw invalid(`a blob is at most ${MAX_BLOB_BYTES} bytes`);
    }
    clearTimeout(cur.timer);
    cur.busy = true;
    try {
      await cur.upload.write(data);
    } catch (err) {
      this.drop(map, uploadId, cur);
      throw err;
    } finally {
      cur.busy = false;
    }
    cur.timer = setTimeout(() => this.drop(map, uploadId, cur), UPLOAD_IDLE_MS);
    cur.timer.unref();
    return {};
  }

  async put(peer: Peer, params: RequestParams<"blob.put">): Promise<{ blobId: string }> {
    const p = params as unknown as Record<string, unknown>;
    const data = this.part(p);
    const uploadId = str(p, "uploadId", { optional: true, max: 64 });
    if (uploadId === undefined) return { blobId: await this.blobs.put(data) };
    const map = this.open(peer);
    const u = map.get(uploadId);
    if (!u) throw notFound(`upload ${uploadId} is gone (the connection was lost): start it again`);
    if (u.busy) throw invalid(`upload ${uploadId}: send its parts one at a time`);
    if (u.upload.size + data.byteLength > MAX_BLOB_BYTES) {
      this.drop(map, uploadId, u);
      throw invalid(`a blob is at most ${MAX_BLOB_BYTES} bytes`);
    }
    clearTimeout(u.timer);
    map.delete(uploadId);
    try {
      await u.upload.write(data);
      return { blobId: await u.upload.finish() };
    } catch (err) {
      await u.upload.abort().catch(() => {});
      throw err;
    }
  }

  async get(params: RequestParams<"blob.get">): Promise<{ data: Uint8Array; size: number }> {
    const p = params as unknown as Record<string, unknown>;
    const blobId = str(p, "blobId", { max: 80 });
    const offset = num(p, "offset", { optional: true, min: 0, max: MAX_BLOB_BYTES }) ?? 0;
    const length = num(p, "length", { optional: true, min: 0, max: BLOB_PART_BYTES }) ?? BLOB_PART_BYTES;
    const size = await this.blobs.size(blobId);
    const data = size === undefined ? undefined : await this.blobs.read(blobId, offset, length);
    if (size === undefined || !data) throw notFound(`no blob ${blobId}`);
    return { data, size };
  }
}
