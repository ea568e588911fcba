import { createHash } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BLOB_PART_BYTES, newId, type VolumeFileWire } from "@skiff/protocol";
import { ApiError, invalid, notFound } from "../api/api-error.js";
import { volumePath } from "./volume-paths.js";
import type { Copy, VolumeService } from "./volume-service.js";

const SHA256 = /^[0-9a-f]{64}$/;

/** A file a worker is uploading during one commit sync. */
interface Incoming {
  hash: string;
  size: number;
  got: number;
  tmp: string;
  fh: import("node:fs/promises").FileHandle;
  hasher: ReturnType<typeof createHash>;
}

/**
 * The control plane's side of volume copies on worker hosts (api.md §7): hands a worker the
 * newest version's file list (and pins it for the copy), serves the content it names by hash,
 * takes the files a commit changed, part by part into a temporary file that becomes content
 * only once its hash matches, and publishes the commit's version. Each call names the
 * container; only a copy that container mounts, placed on a worker, is reachable.
 */
export class RemoteVolumes {
  /** One upload at a time per commit sync (the worker sends files one after another). */
  private readonly incoming = new Map<object, Incoming>();

  constructor(
    private readonly volumes: VolumeService,
    private readonly uploadsDir: string,
  ) {}

  private copy(containerId: string, volumeId: string): Copy {
    const c = this.volumes.copyFor(containerId, volumeId);
    if (!c?.remote)
      throw new ApiError("permission_denied", `container ${containerId} has no copy of volume ${volumeId} on a worker`);
    return c;
  }

  /** The newest version's files; the copy is at that version from now on (its content kept). */
  async manifest(containerId: string, volumeId: string): Promise<{ version: number; files: VolumeFileWire[] }> {
    const copy = this.copy(containerId, volumeId);
    const { version, files } = await this.volumes.objectStore.volumeLatest(volumeId);
    copy.version = version;
    copy.hashes = new Set(files.map((f) => f.hash));
    void this.volumes.prune(volumeId);
    return { version, files: files.map((f) => ({ path: f.path, hash: f.hash, size: f.size })) };
  }

  /** Part of the content `hash`, which must be a file of the version the copy was handed. */
  async read(
    containerId: string,
    volumeId: string,
    hash: string,
    offset: number,
  ): Promise<{ data: Uint8Array; size: number }> {
    const copy = this.copy(containerId, volumeId);
    if (typeof hash !== "string" || !copy.hashes?.has(hash))
      throw notFound(
        `content ${String(hash).slice(0, 12)}… is not in the version of volume ${volumeId} this copy was handed`,
      );
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid("offset must be a non-negative integer");
    const size = (await stat(this.volumes.contentPath(hash)).catch(() => undefined))?.size;
    if (size === undefined)
      throw notFound(`content ${hash.slice(0, 12)}… is gone (a newer version replaced it): reload again`);
    return { data: await this.volumes.read(hash, offset, BLOB_PART_BYTES), size };
  }

  /**
   * Part of a changed file of the commit sync `owner`; `done` once stored (or already there).
   * Parts come in order; a part of another file abandons the one before.
   */
  async put(
    owner: object,
    p: { hash: unknown; size: unknown; offset: unknown; data: unknown },
  ): Promise<{ done: boolean }> {
    const { hash, size, offset, data } = p;
    if (typeof hash !== "string" || !SHA256.test(hash)) throw invalid("hash must be a sha256 in hex");
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw invalid("size must be a non-negative integer");
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw invalid("offset must be a non-negative integer");
    if (!(data instanceof Uint8Array) || data.byteLength > BLOB_PART_BYTES)
      throw invalid(`data must be bytes, at most ${BLOB_PART_BYTES} per part`);
    let u = this.incoming.get(owner);
    if (offset === 0) {
      if (u) await this.abandon(owner);
      const have = await stat(this.volumes.contentPath(hash)).catch(() => undefined);
      if (have?.size === size) return { done: true };
      const tmp = join(this.uploadsDir, newId("wu"));
      await mkdir(this.uploadsDir, { recursive: true });
      u = { hash, size: size as number, got: 0, tmp, fh: await open(tmp, "w"), hasher: createHash("sha256") };
      this.incoming.set(owner, u);
    }
    if (!u || u.hash !== hash || u.got !== offset)
      throw invalid(`part at ${String(offset)} of ${hash.slice(0, 12)}… does not follow the parts sent before`);
    if (u.got + data.byteLength > u.size) {
      await this.abandon(owner);
      throw invalid(`${hash.slice(0, 12)}…: more bytes than its size (${u.size})`);
    }
    u.hasher.update(data);
    await u.fh.write(data);
    u.got += data.byteLength;
    if (u.got < u.size) return { done: false };
    this.incoming.delete(owner);
    await u.fh.close();
    const got = u.hasher.digest("hex");
    if (got !== hash) {
      await rm(u.tmp, { force: true });
      throw invalid(
        `the content sent for ${hash.slice(0, 12)}… hashes to ${got.slice(0, 12)}… (the file changed while it was committed?): not stored`,
      );
    }
    const dest = this.volumes.contentPath(hash);
    await mkdir(dirname(dest), { recursive: true });
    await rename(u.tmp, dest);
    return { done: true };
  }

  /** Drops an unfinished upload of a sync (it ended or failed). */
  async abandon(owner: object): Promise<void> {
    const u = this.incoming.get(owner);
    if (!u) return;
    this.incoming.delete(owner);
    await u.fh.close().catch(() => {});
    await rm(u.tmp, { force: true });
  }

  /** Publishes a worker copy's changes as a version; every new hash must have been uploaded. */
  async commit(containerId: string, volumeId: string, changes: unknown): Promise<{ version: number }> {
    const copy = this.copy(containerId, volumeId);
    if (copy.readOnly) throw invalid(`volume ${volumeId} is mounted read-only in this container: it cannot commit`);
    if (!Array.isArray(changes) || changes.length > 1_000_000) throw invalid("changes must be a list");
    const checked: { path: string; hash: string | null; size: number }[] = [];
    for (const c of changes as { path: unknown; hash: unknown; size: unknown }[]) {
      const path = volumePath(c?.path, "changes[].path");
      if (path === "") throw invalid("a change names the volume's root");
      if (c.hash === null) {
        checked.push({ path, hash: null, size: 0 });
        continue;
      }
      if (typeof c.hash !== "string" || !SHA256.test(c.hash))
        throw invalid("changes[].hash must be a sha256 in hex or null");
      const st = await stat(this.volumes.contentPath(c.hash)).catch(() => undefined);
      if (!st || st.size !== c.size)
        throw invalid(
          `content ${c.hash.slice(0, 12)}… of "${path}" was not uploaded (worker.volume.put) before the commit`,
        );
      checked.push({ path, hash: c.hash, size: st.size });
    }
    if (checked.length === 0) return { version: copy.version };
    const v = await this.volumes.objectStore.volumeCommit(volumeId, checked, Date.now());
    copy.version = v.version;
    await this.volumes.prune(volumeId);
    return { version: v.version };
  }
}
