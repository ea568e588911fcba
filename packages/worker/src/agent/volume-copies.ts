import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { lstat, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  BLOB_PART_BYTES,
  type EventMap,
  type EventName,
  type RemoteVolume,
  type RequestMap,
  type RequestName,
} from "@skiff/protocol";
import { sha256File } from "../images/layer-export.js";

/** The control link, as far as volume copies use it. */
export interface VolumeLink {
  request<N extends RequestName>(name: N, p: RequestMap[N][0]): Promise<RequestMap[N][1]>;
  emit<N extends EventName>(name: N, body: EventMap[N]): void;
}

interface Copy {
  containerId: string;
  volumeId: string;
  dir: string;
  /** What each file held when last synced: unchanged files are not hashed again at commit. */
  known: Map<string, { hash: string; size: number; mtimeMs: number }>;
  /** Syncs of one copy run one after another. */
  queue: Promise<unknown>;
}

/**
 * The local copies of volumes that containers on this worker mount (api.md §7): the copy
 * lives here, under `volumes/<container>/`, made from the newest version when the container
 * starts. On the container's commit() (the control plane asks, worker.volume.sync) the changed
 * files are hashed and those the control plane lacks are uploaded part by part, then the
 * changes become a new version; on reload() the newest version's files the copy lacks are
 * fetched by hash, part by part, verified, and moved into place. Memory stays bounded by one
 * part whatever the file sizes.
 */
export class VolumeCopies {
  private readonly copies = new Map<string, Map<string, Copy>>();

  constructor(private readonly dir: string) {
    // No copy outlives the agent: its containers are gone, and their changes were not committed.
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Makes the copies of a container's volumes (the newest versions); returns what to mount. */
  async make(
    link: VolumeLink,
    containerId: string,
    volumes: RemoteVolume[],
  ): Promise<{ hostPath: string; mountPath: string; readOnly: boolean }[]> {
    const mine = new Map<string, Copy>();
    this.copies.set(containerId, mine);
    const out: { hostPath: string; mountPath: string; readOnly: boolean }[] = [];
    for (const v of volumes) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(v.volumeId))
        throw new Error(`volume id ${JSON.stringify(v.volumeId)} is malformed`);
      const dir = join(this.dir, containerId, v.volumeId);
      await mkdir(dir, { recursive: true });
      const copy: Copy = { containerId, volumeId: v.volumeId, dir, known: new Map(), queue: Promise.resolve() };
      mine.set(v.volumeId, copy);
      await this.reload(link, copy);
      out.push({ hostPath: dir, mountPath: v.mountPath, readOnly: v.readOnly });
    }
    return out;
  }

  /** A container ended: its copies go. */
  drop(containerId: string): void {
    if (!this.copies.delete(containerId)) return;
    void rm(join(this.dir, containerId), { recursive: true, force: true }).catch(() => {});
  }

  /** The control plane asks for a commit or reload of a copy; answered on the link. */
  sync(link: VolumeLink, m: EventMap["worker.volume.sync"]): void {
    const copy = this.copies.get(m.containerId)?.get(m.volumeId);
    if (!copy) {
      link.emit("worker.volume.failed", {
        syncId: m.syncId,
        message: `no copy of volume ${m.volumeId} for container ${m.containerId} on this worker`,
      });
      return;
    }
    const run = async () => {
      if (m.op === "commit") await this.commit(link, copy, m.syncId);
      else {
        const version = await this.reload(link, copy);
        await link.request("worker.volume.done", { syncId: m.syncId, version });
      }
    };
    copy.queue = copy.queue.then(run).catch((err: Error) => {
      link.emit("worker.volume.failed", { syncId: m.syncId, message: err.message });
    });
  }

  /** Brings the copy to the newest version: fetches what changed, removes what went. Returns the version. */
  private async reload(link: VolumeLink, copy: Copy): Promise<number> {
    const { version, files } = await link.request("worker.volume.manifest", {
      containerId: copy.containerId,
      volumeId: copy.volumeId,
    });
    const latest = new Set<string>();
    for (const f of files) {
      const path = safePath(f.path);
      latest.add(path);
      if (copy.known.get(path)?.hash === f.hash) continue;
      const to = join(copy.dir, path);
      await mkdir(dirname(to), { recursive: true });
      const tmp = `${to}.skiff-${randomBytes(4).toString("hex")}`;
      try {
        await this.fetchFile(link, copy, f.hash, f.size, tmp);
        await rename(tmp, to);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      copy.known.set(path, { hash: f.hash, size: f.size, mtimeMs: (await stat(to)).mtimeMs });
    }
    for (const path of [...copy.known.keys()]) {
      if (latest.has(path)) continue;
      await rm(join(copy.dir, path), { force: true });
      copy.known.delete(path);
    }
    return version;
  }

  private async fetchFile(link: VolumeLink, copy: Copy, hash: string, size: number, to: string): Promise<void> {
    const h = createHash("sha256");
    const fh = await open(to, "w", 0o644);
    try {
      let offset = 0;
      while (offset < size) {
        const part = await link.request("worker.volume.read", {
          containerId: copy.containerId,
          volumeId: copy.volumeId,
          hash,
          offset,
        });
        if (part.data.byteLength === 0 || offset + part.data.byteLength > size)
          throw new Error(`volume file ${hash.slice(0, 12)}…: its parts do not add up to its size`);
        h.update(part.data);
        await fh.write(part.data, 0, part.data.byteLength, offset);
        offset += part.data.byteLength;
      }
    } finally {
      await fh.close();
    }
    const got = h.digest("hex");
    if (got !== hash) throw new Error(`volume file ${hash.slice(0, 12)}… arrived with the wrong content: not used`);
  }

  /** Hashes what changed, uploads what the control plane lacks, and commits the changes. */
  private async commit(link: VolumeLink, copy: Copy, syncId: string): Promise<void> {
    const seen = new Set<string>();
    const changes: { path: string; hash: string | null; size: number }[] = [];
    const fresh = new Map<string, { hash: string; size: number; mtimeMs: number }>();
    for await (const [path, st] of walk(copy.dir, "")) {
      seen.add(path);
      const k = copy.known.get(path);
      if (k && k.size === st.size && k.mtimeMs === st.mtimeMs) continue;
      const hash = await sha256File(join(copy.dir, path));
      fresh.set(path, { hash, size: st.size, mtimeMs: st.mtimeMs });
      if (k?.hash === hash) continue;
      changes.push({ path, hash, size: st.size });
      await this.upload(link, syncId, join(copy.dir, path), hash, st.size);
    }
    for (const path of copy.known.keys()) if (!seen.has(path)) changes.push({ path, hash: null, size: 0 });
    await link.request("worker.volume.commit", { syncId, changes });
    // Only once the control plane took them: a failed commit leaves them to the next one.
    for (const [p, v] of fresh) copy.known.set(p, v);
    for (const p of [...copy.known.keys()]) if (!seen.has(p)) copy.known.delete(p);
  }

  private async upload(link: VolumeLink, syncId: string, file: string, hash: string, size: number): Promise<void> {
    const fh = await open(file, "r");
    try {
      let offset = 0;
      do {
        const buf = Buffer.alloc(Math.min(BLOB_PART_BYTES, size - offset));
        const { bytesRead } = buf.byteLength > 0 ? await fh.read(buf, 0, buf.byteLength, offset) : { bytesRead: 0 };
        if (bytesRead !== buf.byteLength) throw new Error(`${file} changed while it was committed: commit again`);
        const { done } = await link.request("worker.volume.put", { syncId, hash, size, offset, data: buf });
        offset += bytesRead;
        if (done) return;
      } while (offset < size);
      throw new Error(`the control plane did not take ${hash.slice(0, 12)}… after all ${size} bytes`);
    } finally {
      await fh.close();
    }
  }
}

/** A volume path from the control plane, checked: relative, no "..", nothing that leaves the copy. */
function safePath(p: string): string {
  const parts = p.split("/");
  if (!p || p.length > 4096 || p.includes("\0") || parts.some((x) => x === "" || x === "." || x === ".."))
    throw new Error(`volume path ${JSON.stringify(p)} is malformed`);
  return p;
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
