import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createReadStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ImageExport } from "@skiff/protocol";
import type { LayerStore } from "./layer-store.js";

/**
 * Images as archives for worker hosts (docs/images.md, "On worker hosts"): the control plane is
 * the one builder; a worker gets an image's root file system as one tar, named by its sha256,
 * made here once per root and kept under `exports/` beside the layers, least recently used
 * first out past a size limit. The archive is made with GNU tar (owners numeric, names sorted,
 * hard links kept), so a worker running as root gets the same owners and modes the build made.
 */
export class LayerExports {
  private readonly dir: string;
  private readonly making = new Map<string, Promise<ImageExport>>();

  constructor(
    private readonly store: LayerStore,
    private readonly limitBytes: number,
    private readonly log: (m: string) => void,
  ) {
    this.dir = join(store.dir, "exports");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // A half-written archive of a process that was killed.
    for (const name of readdirSync(this.dir)) if (name.startsWith(".")) rmSync(join(this.dir, name), { force: true });
  }

  /** The archive of image `key` (its root's), made now if it is not here yet. */
  export(key: string): Promise<ImageExport> {
    const layer = this.store.get(key);
    if (!layer) return Promise.reject(new Error(`image layer ${key.slice(0, 12)} is not on this control plane`));
    const root = this.store.rootOf(layer);
    const rootKey = layer.rootKey;
    const extra = { env: layer.env, workdir: layer.workdir };
    const found = this.read(rootKey);
    if (found) return Promise.resolve({ ...found, ...extra });
    let p = this.making.get(rootKey);
    if (!p) {
      p = this.make(rootKey, root).finally(() => this.making.delete(rootKey));
      this.making.set(rootKey, p);
    }
    return p.then((x) => ({ ...x, ...extra }));
  }

  /** The stored archive of a root (marked used), or undefined. */
  private read(rootKey: string): ImageExport | undefined {
    const metaFile = join(this.dir, `${rootKey}.json`);
    try {
      const m = JSON.parse(readFileSync(metaFile, "utf8")) as { archive: string; size: number };
      const path = join(this.dir, `${rootKey}.tar`);
      if (statSync(path).size !== m.size) return undefined;
      const now = new Date();
      utimesSync(metaFile, now, now);
      return { archive: m.archive, size: m.size, path, env: {}, workdir: undefined };
    } catch {
      return undefined;
    }
  }

  private async make(rootKey: string, root: string): Promise<ImageExport> {
    const tmp = join(this.dir, `.${rootKey}.${process.pid}.tar`);
    const t0 = Date.now();
    try {
      await tar(["--create", "--file", tmp, "--directory", root, "--numeric-owner", "--sort=name", "."]);
      const archive = await sha256File(tmp);
      const size = statSync(tmp).size;
      const path = join(this.dir, `${rootKey}.tar`);
      renameSync(tmp, path);
      await writeFile(join(this.dir, `${rootKey}.json`), JSON.stringify({ archive, size }));
      this.log(`image root ${rootKey.slice(0, 12)} archived for workers: ${size} bytes in ${Date.now() - t0} ms`);
      this.trim(rootKey);
      return { archive, size, path, env: {}, workdir: undefined };
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Archives past the limit go, least recently used first (never the one just made), and those of removed layers. */
  private trim(keep: string): void {
    const all: { key: string; size: number; at: number }[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(".json")) continue;
      const key = name.slice(0, -5);
      try {
        const st = statSync(join(this.dir, name));
        const size = statSync(join(this.dir, `${key}.tar`)).size;
        if (!this.store.has(key)) this.remove(key);
        else all.push({ key, size, at: st.mtimeMs });
      } catch {
        this.remove(key);
      }
    }
    let total = all.reduce((n, a) => n + a.size, 0);
    for (const a of all.sort((x, y) => x.at - y.at)) {
      if (total <= this.limitBytes) break;
      if (a.key === keep) continue;
      this.remove(a.key);
      total -= a.size;
    }
  }

  private remove(rootKey: string): void {
    rmSync(join(this.dir, `${rootKey}.json`), { force: true });
    rmSync(join(this.dir, `${rootKey}.tar`), { force: true });
  }
}

/** Runs GNU tar; rejects with its message. */
export function tar(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("tar", args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (t: string) => {
      if (err.length < 4096) err += t;
    });
    child.on("error", (e) => reject(new Error(`tar could not run: ${e.message}`)));
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`tar failed (${code}): ${err.trim()}`))));
  });
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path, { highWaterMark: 1024 * 1024 })
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}
