import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { alive } from "../sandbox/temp-dirs.js";

/** What a layer records beside its files. */
export interface LayerMeta {
  key: string;
  parent: string | null;
  step: string;
  /** The layer whose `root/` is this image's file system (itself, or an ancestor for env/workdir steps). */
  rootKey: string;
  /** Environment and working directory of the image up to this step. */
  env: Record<string, string>;
  workdir: string | undefined;
  /** Bytes of files this layer holds itself (not hard links to its parent's). */
  bytes: number;
  createdAt: number;
}

export interface Layer extends LayerMeta {
  lastUsedAt: number;
}

/**
 * Layers on disk, by key: `layers/<key>/meta.json` and `layers/<key>/root/`. A layer is built
 * in `tmp/<pid>-…/` and renamed into `layers/` only when complete, so an interrupted build
 * (Ctrl-C, a killed server) leaves nothing that looks like a layer; `tmp/` of processes that
 * are gone is swept at start. The last use is the mtime of meta.json.
 */
export class LayerStore {
  readonly layersDir: string;
  readonly tmpDir: string;
  readonly cacheDir: string;
  private readonly ownTmp: string;

  constructor(readonly dir: string) {
    this.layersDir = join(dir, "layers");
    this.tmpDir = join(dir, "tmp");
    this.cacheDir = join(dir, "cache");
    for (const d of [this.layersDir, this.tmpDir, this.cacheDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    this.sweepTmp();
    this.ownTmp = join(this.tmpDir, `${process.pid}-${Date.now().toString(36)}`);
    mkdirSync(this.ownTmp, { recursive: true });
  }

  /**
   * Removes what builds of processes that are gone left half-done, in the background (a
   * killed build can leave a whole root file system; the server need not wait for it).
   */
  private sweepTmp(): void {
    for (const name of readdirSync(this.tmpDir)) {
      const pid = Number(name.split("-")[0]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) continue;
      // Renamed first, so it is gone from tmp/ at once; a tool of the dead build still writing
      // into it (cp) cannot make the removal fail for good: it is retried.
      const doomed = join(this.tmpDir, `${process.pid}-swept-${name}`);
      try {
        renameSync(join(this.tmpDir, name), doomed);
      } catch {
        continue;
      }
      void rm(doomed, { recursive: true, force: true, maxRetries: 5, retryDelay: 500 }).catch(() => {});
    }
  }

  /** A fresh directory to build a layer in (moved into place by `commit`). */
  scratch(key: string): string {
    const d = join(this.ownTmp, `${key.slice(0, 16)}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(d, { recursive: true });
    return d;
  }

  discard(scratch: string): void {
    rmSync(scratch, { recursive: true, force: true });
  }

  /** Makes a built layer visible: meta written last, then one atomic rename. */
  commit(scratch: string, meta: LayerMeta): void {
    writeFileSync(join(scratch, "meta.json"), JSON.stringify(meta));
    try {
      renameSync(scratch, join(this.layersDir, meta.key));
    } catch (err) {
      // Another process built the same key first: keep theirs (same content by construction).
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === "ENOTEMPTY" || code === "EEXIST") && this.get(meta.key)) {
        this.discard(scratch);
        return;
      }
      throw err;
    }
  }

  get(key: string): Layer | undefined {
    if (!/^[0-9a-f]{64}$/.test(key)) return undefined;
    const metaFile = join(this.layersDir, key, "meta.json");
    try {
      const meta = JSON.parse(readFileSync(metaFile, "utf8")) as LayerMeta;
      return { ...meta, lastUsedAt: statSync(metaFile).mtimeMs };
    } catch {
      return undefined;
    }
  }

  /** The directory that is the image's root file system at this layer. */
  rootOf(layer: LayerMeta): string {
    return join(this.layersDir, layer.rootKey, "root");
  }

  /** Root, env and working directory of an image that is here, for a container; marks it used. */
  resolve(key: string): { root: string; env: Record<string, string>; workdir: string | undefined } | undefined {
    const layer = this.get(key);
    if (!layer) return undefined;
    const root = this.rootOf(layer);
    if (!existsSync(root)) return undefined;
    this.touch(key);
    return { root, env: layer.env, workdir: layer.workdir };
  }

  touch(key: string): void {
    const now = new Date();
    try {
      utimesSync(join(this.layersDir, key, "meta.json"), now, now);
    } catch {}
  }

  all(): Layer[] {
    const out: Layer[] = [];
    for (const name of readdirSync(this.layersDir)) {
      const l = this.get(name);
      if (l) out.push(l);
    }
    return out;
  }

  /**
   * Removes a layer. Its files stay on disk while a later layer hard-links them; a layer whose
   * env/workdir step used this one's root is removed with it (it has no files of its own).
   */
  remove(key: string): void {
    const doomed = join(this.tmpDir, `rm-${key.slice(0, 16)}-${Math.random().toString(36).slice(2, 8)}`);
    try {
      // Rename first: the layer disappears at once, even if deleting its files takes a while.
      renameSync(join(this.layersDir, key), doomed);
    } catch {
      return;
    }
    rmSync(doomed, { recursive: true, force: true });
    for (const l of this.all()) if (l.rootKey === key && l.key !== key) this.remove(l.key);
  }

  /**
   * Removes a layer (or a scratch directory) without holding up this process: renamed out of
   * the way at once, its files deleted in the background (a root file system of thousands of
   * files takes seconds on a busy disk, and a worker must keep answering its heartbeat).
   */
  removeSoon(what: { key: string } | { scratch: string }): Promise<void> {
    const from = "key" in what ? join(this.layersDir, what.key) : what.scratch;
    const doomed = join(this.tmpDir, `rm-${Math.random().toString(36).slice(2, 10)}`);
    try {
      renameSync(from, doomed);
    } catch {
      return Promise.resolve();
    }
    return rm(doomed, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => {});
  }

  /** Removes this process's scratch space (builds in it were stopped). */
  close(): void {
    try {
      rmSync(this.ownTmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      // A tool of a stopped build still writing: the next server sweeps it (this process is gone then).
    }
  }

  has(key: string): boolean {
    return existsSync(join(this.layersDir, key, "meta.json"));
  }
}
