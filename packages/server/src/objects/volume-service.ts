import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { copyFile, lstat, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { newId } from "@skiff/protocol";
import { ApiError, invalid, notFound } from "../api/api-error.js";
import type { ObjectStore, VolumeFileRow } from "../store/object-store.js";
import { under, volumePath } from "./volume-paths.js";

/** Uploads one connection may have open at once. */
const MAX_UPLOADS_PER_HOLDER = 16;

export interface VolumeEntry {
  path: string;
  type: "file" | "directory";
  size: number;
}

interface Upload {
  tmp: string;
  hash: ReturnType<typeof createHash>;
  size: number;
  fh: import("node:fs/promises").FileHandle;
  owner: object;
}

/** A sync of a copy on a worker host: the worker does it (volume-remote.ts). */
export type RemoteSync = (volumeId: string, op: "commit" | "reload") => Promise<{ version: number }>;

/** A container's local copy of a volume. */
export interface Copy {
  volumeId: string;
  dir: string;
  readOnly: boolean;
  /** The version it was made from (kept while the copy lives). */
  version: number;
  /** What each file held when last synced: unchanged files are not hashed again at commit. */
  known: Map<string, { hash: string; size: number; mtimeMs: number }>;
  /** Files placed in `dir` yet (on this host; a copy on a worker never is). */
  placed: boolean;
  /** The copy is on a worker: commit and reload are done there. */
  remote?: RemoteSync;
  /** Content a worker's copy may read (the version it was last handed). */
  hashes?: Set<string>;
}

/**
 * Volumes (architecture.md decision 10): a series of committed versions of content-addressed
 * files. Content lives once per hash under `content/`; a container works on a local copy
 * under `copies/` made from one version, `commit()` stores what changed and publishes a new
 * version (the newest with those changes applied), `reload()` brings the copy to the newest.
 * On this host a copy is a reflink where the file system has them, else a copy: a hard link
 * would let a write in place change the stored content. Versions no copy uses are dropped at
 * each commit, and content no version names is deleted.
 */
export class VolumeService {
  private readonly contentDir: string;
  private readonly copiesDir: string;
  private readonly uploadsDir: string;
  private readonly uploads = new Map<string, Upload>();
  /** Copies by container, then volume. */
  private readonly copies = new Map<string, Map<string, Copy>>();

  constructor(
    private readonly store: ObjectStore,
    dataDir: string,
    private readonly log: (msg: string) => void,
  ) {
    this.contentDir = join(dataDir, "volumes", "content");
    this.copiesDir = join(dataDir, "volumes", "copies");
    this.uploadsDir = join(dataDir, "volumes", "uploads");
  }

  /** Server start: no container copy or upload outlives the process. */
  async start(): Promise<void> {
    await rm(this.copiesDir, { recursive: true, force: true });
    await rm(this.uploadsDir, { recursive: true, force: true });
    await mkdir(this.contentDir, { recursive: true });
    await mkdir(this.copiesDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
  }

  /** @internal (volume-remote.ts) */
  contentPath(hash: string): string {
    return join(this.contentDir, hash.slice(0, 2), hash);
  }

  // ---- reading

  async list(volumeId: string, dir: string, recursive: boolean): Promise<VolumeEntry[]> {
    const { files } = await this.store.volumeLatest(volumeId);
    const out = new Map<string, VolumeEntry>();
    for (const f of files) {
      if (!under(f.path, dir)) continue;
      if (f.path === dir) return [{ path: f.path, type: "file", size: f.size }];
      const rest = dir === "" ? f.path : f.path.slice(dir.length + 1);
      const slash = rest.indexOf("/");
      if (recursive || slash < 0) out.set(f.path, { path: f.path, type: "file", size: f.size });
      else {
        const sub = dir === "" ? rest.slice(0, slash) : `${dir}/${rest.slice(0, slash)}`;
        if (!out.has(sub)) out.set(sub, { path: sub, type: "directory", size: 0 });
      }
    }
    if (out.size === 0 && dir !== "") throw notFound(`no file or directory "${dir}" in the volume`);
    return [...out.values()];
  }

  async stat(volumeId: string, path: string): Promise<VolumeFileRow> {
    const { files } = await this.store.volumeLatest(volumeId);
    const f = files.find((x) => x.path === path);
    if (f) return f;
    if (path === "" || files.some((x) => under(x.path, path)))
      throw invalid(`"${path || "/"}" is a directory, not a file`);
    throw notFound(`no file "${path}" in the volume`);
  }

  /** Whether the newest version of the volume has a file with this content. */
  async holds(volumeId: string, hash: string): Promise<boolean> {
    const { files } = await this.store.volumeLatest(volumeId);
    return files.some((f) => f.hash === hash);
  }

  async read(hash: string, offset: number, length: number): Promise<Uint8Array> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw invalid("hash must be a sha256 in hex");
    let fh: import("node:fs/promises").FileHandle;
    try {
      fh = await open(this.contentPath(hash), "r");
    } catch {
      throw notFound("the file's content is gone (a newer version replaced it): read it again");
    }
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
    } finally {
      await fh.close();
    }
  }

  // ---- writing from outside a container: upload content, then commit paths to it

  async uploadStart(owner: object): Promise<string> {
    let mine = 0;
    for (const u of this.uploads.values()) if (u.owner === owner) mine++;
    if (mine >= MAX_UPLOADS_PER_HOLDER) throw invalid(`this connection has ${mine} uploads open, the most it may`);
    const id = newId("up");
    const tmp = join(this.uploadsDir, id);
    const fh = await open(tmp, "w");
    this.uploads.set(id, { tmp, hash: createHash("sha256"), size: 0, fh, owner });
    return id;
  }

  async uploadChunk(owner: object, id: string, data: Uint8Array): Promise<void> {
    const u = this.uploads.get(id);
    if (!u || u.owner !== owner) throw notFound(`no upload ${id} on this connection`);
    u.hash.update(data);
    u.size += data.byteLength;
    await u.fh.write(data);
  }

  async uploadEnd(owner: object, id: string): Promise<{ hash: string; size: number }> {
    const u = this.uploads.get(id);
    if (!u || u.owner !== owner) throw notFound(`no upload ${id} on this connection`);
    this.uploads.delete(id);
    await u.fh.close();
    const hash = u.hash.digest("hex");
    await this.adopt(u.tmp, hash, true);
    return { hash, size: u.size };
  }

  /** Drops the uploads a closed connection left open. */
  abandonUploads(owner: object): void {
    for (const [id, u] of this.uploads) {
      if (u.owner !== owner) continue;
      this.uploads.delete(id);
      void u.fh
        .close()
        .then(() => unlink(u.tmp))
        .catch(() => {});
    }
  }

  /** Makes `file` the content of `hash` (moved when `move`, else cloned or copied). */
  private async adopt(file: string, hash: string, move: boolean): Promise<void> {
    const dest = this.contentPath(hash);
    await mkdir(dirname(dest), { recursive: true });
    try {
      await stat(dest);
      if (move) await unlink(file);
      return; // already stored
    } catch {}
    if (move) await rename(file, dest);
    else {
      const tmp = join(this.uploadsDir, newId("cp"));
      await copyFile(file, tmp, constants.COPYFILE_FICLONE);
      await rename(tmp, dest);
    }
  }

  async commitChanges(volumeId: string, changes: { path: string; hash: string | null; size: number }[]) {
    for (const c of changes)
      if (c.hash !== null && !/^[0-9a-f]{64}$/.test(c.hash)) throw invalid("hash must be a sha256 in hex");
    const v = await this.store.volumeCommit(volumeId, changes, Date.now());
    await this.prune(volumeId);
    return v;
  }

  /** Publishes a version with `path` holding uploaded content (writeFile from outside). */
  async putFile(volumeId: string, path: string, hash: string, size: number): Promise<{ version: number }> {
    if (path === "") throw invalid("writeFile needs a file path, not the volume's root");
    const { files } = await this.store.volumeLatest(volumeId);
    if (files.some((f) => f.path !== path && under(f.path, path)))
      throw invalid(`"${path}" is a directory in the volume: write to a file path`);
    const parent = files.find((f) => under(path, f.path) && f.path !== path);
    if (parent) throw invalid(`"${parent.path}" is a file, so "${path}" cannot be created under it`);
    try {
      const st = await stat(this.contentPath(hash));
      if (st.size !== size) throw new Error("size");
    } catch {
      throw invalid(`content ${hash.slice(0, 12)}… of ${size} bytes was not uploaded`);
    }
    const v = await this.commitChanges(volumeId, [{ path, hash, size }]);
    return { version: v.version };
  }

  async remove(volumeId: string, path: string, recursive: boolean): Promise<void> {
    const { files } = await this.store.volumeLatest(volumeId);
    const exact = files.find((f) => f.path === path);
    const inside = files.filter((f) => f.path !== path && under(f.path, path));
    if (!exact && inside.length === 0) throw notFound(`no file or directory "${path}" in the volume`);
    if (inside.length > 0 && !recursive)
      throw invalid(`"${path || "/"}" is a directory: pass { recursive: true } to remove it and what it holds`);
    await this.commitChanges(
      volumeId,
      [...(exact ? [exact] : []), ...inside].map((f) => ({ path: f.path, hash: null, size: 0 })),
    );
  }

  /**
   * Copies files or directories within the volume (Modal's copy_files): into `dest` when it is a
   * directory, when there are several sources, or when the caller's path ended in "/" (`destIsDir`).
   */
  async copy(volumeId: string, sources: string[], dest: string, destIsDir = false): Promise<void> {
    const { files } = await this.store.volumeLatest(volumeId);
    const isDir = (p: string) => p === "" || files.some((f) => f.path !== p && under(f.path, p));
    const intoDir = destIsDir || sources.length > 1 || isDir(dest);
    const changes: { path: string; hash: string; size: number }[] = [];
    for (const src of sources) {
      const matched = files.filter((f) => under(f.path, src));
      if (matched.length === 0) throw notFound(`no file or directory "${src}" in the volume`);
      const base = src.split("/").pop() ?? "";
      const target = intoDir ? (dest ? `${dest}/${base}` : base) : dest;
      for (const f of matched) {
        const rel = f.path === src ? "" : f.path.slice(src.length + (src ? 1 : 0));
        const to = rel ? (target ? `${target}/${rel}` : rel) : target;
        if (!to) throw invalid(`cannot copy "${src}" onto the volume's root`);
        changes.push({ path: to, hash: f.hash, size: f.size });
      }
    }
    await this.commitChanges(volumeId, changes);
  }

  // ---- container copies

  /**
   * Registers a container's copy of the newest version (pinned) and returns the host directory
   * to mount. Its files are placed when the container is placed on this host (materialize);
   * a container placed on a worker gets its copy there instead (attachRemote).
   */
  async mount(containerId: string, volumeId: string, readOnly: boolean): Promise<string> {
    const { version } = await this.store.volumeLatest(volumeId);
    const dir = join(this.copiesDir, containerId, volumeId);
    const copy: Copy = { volumeId, dir, readOnly, version, known: new Map(), placed: false };
    let mine = this.copies.get(containerId);
    if (!mine) {
      mine = new Map();
      this.copies.set(containerId, mine);
    }
    mine.set(volumeId, copy);
    return dir;
  }

  /** The container runs on this host: its copies get the newest version's files. */
  async materialize(containerId: string): Promise<void> {
    for (const copy of this.copies.get(containerId)?.values() ?? []) {
      if (copy.placed || copy.remote) continue;
      const { version, files } = await this.store.volumeLatest(copy.volumeId);
      await mkdir(copy.dir, { recursive: true });
      copy.version = version;
      for (const f of files) await this.place(copy, f);
      copy.placed = true;
    }
  }

  /** The container runs on a worker: its copies are made and synced there, through `sync`. */
  attachRemote(containerId: string, sync: RemoteSync): { volumeId: string; readOnly: boolean }[] {
    const out: { volumeId: string; readOnly: boolean }[] = [];
    for (const copy of this.copies.get(containerId)?.values() ?? []) {
      copy.remote = sync;
      out.push({ volumeId: copy.volumeId, readOnly: copy.readOnly });
    }
    return out;
  }

  /** @internal (volume-remote.ts) A container's copy of a volume, if it has one. */
  copyFor(containerId: string, volumeId: string): Copy | undefined {
    return this.copies.get(containerId)?.get(volumeId);
  }

  /** @internal (volume-remote.ts) */
  get objectStore(): ObjectStore {
    return this.store;
  }

  private async place(copy: Copy, f: VolumeFileRow): Promise<void> {
    const to = join(copy.dir, f.path);
    await mkdir(dirname(to), { recursive: true });
    const tmp = `${to}.skiff-${newId("t")}`;
    await copyFile(this.contentPath(f.hash), tmp, constants.COPYFILE_FICLONE);
    await rename(tmp, to);
    copy.known.set(f.path, { hash: f.hash, size: f.size, mtimeMs: (await stat(to)).mtimeMs });
  }

  /** @internal */
  copyOf(containerId: string, volumeId: string, label: string): Copy {
    const copy = this.copies.get(containerId)?.get(volumeId);
    if (!copy)
      throw new ApiError(
        "failed_precondition",
        `${label} is not mounted in this container: commit() and reload() are for containers that mount it (from outside, writeFile commits at once)`,
      );
    return copy;
  }

  /** Stores what changed in a container's copy and publishes a version. */
  async commitCopy(containerId: string, volumeId: string, label: string): Promise<{ version: number }> {
    const copy = this.copyOf(containerId, volumeId, label);
    if (copy.readOnly) throw invalid(`${label} is mounted read-only in this container: it cannot commit`);
    if (copy.remote) return copy.remote(volumeId, "commit");
    const seen = new Set<string>();
    const changes: { path: string; hash: string | null; size: number }[] = [];
    const fresh = new Map<string, { hash: string; size: number; mtimeMs: number }>();
    for await (const [path, st] of walk(copy.dir, "")) {
      seen.add(path);
      const k = copy.known.get(path);
      if (k && k.size === st.size && k.mtimeMs === st.mtimeMs) continue;
      const hash = await hashFile(join(copy.dir, path));
      await this.adopt(join(copy.dir, path), hash, false);
      fresh.set(path, { hash, size: st.size, mtimeMs: st.mtimeMs });
      if (!k || k.hash !== hash) changes.push({ path, hash, size: st.size });
    }
    for (const path of copy.known.keys()) if (!seen.has(path)) changes.push({ path, hash: null, size: 0 });
    for (const [p, v] of fresh) copy.known.set(p, v);
    for (const p of [...copy.known.keys()]) if (!seen.has(p)) copy.known.delete(p);
    if (changes.length === 0) return { version: copy.version };
    const v = await this.store.volumeCommit(volumeId, changes, Date.now());
    copy.version = v.version;
    await this.prune(volumeId);
    return { version: v.version };
  }

  /** Brings a container's copy to the newest version (files changed there and not committed stay). */
  async reloadCopy(containerId: string, volumeId: string, label: string): Promise<{ version: number }> {
    const copy = this.copyOf(containerId, volumeId, label);
    if (copy.remote) return copy.remote(volumeId, "reload");
    const { version, files } = await this.store.volumeLatest(volumeId);
    const latest = new Map(files.map((f) => [f.path, f]));
    for (const f of files) if (copy.known.get(f.path)?.hash !== f.hash) await this.place(copy, f);
    for (const path of [...copy.known.keys()]) {
      if (latest.has(path)) continue;
      await rm(join(copy.dir, path), { force: true });
      copy.known.delete(path);
    }
    copy.version = version;
    await this.prune(volumeId);
    return { version };
  }

  /** A container ended: its copies go, and the versions they held may too. */
  async unmountAll(containerId: string): Promise<void> {
    const mine = this.copies.get(containerId);
    if (!mine) return;
    this.copies.delete(containerId);
    await rm(join(this.copiesDir, containerId), { recursive: true, force: true });
    for (const volumeId of mine.keys()) await this.prune(volumeId);
  }

  /** Versions pinned by copies of a volume. */
  private pinned(volumeId: string): Set<number> {
    const keep = new Set<number>();
    for (const mine of this.copies.values()) {
      const c = mine.get(volumeId);
      if (c) keep.add(c.version);
    }
    return keep;
  }

  /** @internal */
  async prune(volumeId: string): Promise<void> {
    try {
      for (const hash of await this.store.volumePrune(volumeId, this.pinned(volumeId)))
        await rm(this.contentPath(hash), { force: true });
    } catch (err) {
      this.log(`pruning volume ${volumeId} failed: ${(err as Error).message}`);
    }
  }

  /** A volume was deleted: content no volume names any more is deleted. */
  async deleted(volumeId: string): Promise<void> {
    await this.prune(volumeId);
    // Its rows are gone; sweep the content store for hashes nothing names.
    try {
      for (const sub of await readdir(this.contentDir)) {
        for (const hash of await readdir(join(this.contentDir, sub))) {
          if (!(await this.store.volumeHashUsed(hash))) await rm(join(this.contentDir, sub, hash), { force: true });
        }
      }
    } catch (err) {
      this.log(`sweeping volume content failed: ${(err as Error).message}`);
    }
  }
}

/** Regular files under a directory, as relative paths with their stat. */
async function* walk(root: string, rel: string): AsyncGenerator<[string, { size: number; mtimeMs: number }]> {
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) yield* walk(root, p);
    else if (e.isFile()) {
      const st = await lstat(join(root, p));
      yield [p, { size: st.size, mtimeMs: st.mtimeMs }];
    }
  }
}

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path, { highWaterMark: 1024 * 1024 })
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

export { volumePath };
