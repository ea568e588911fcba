import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { RemoteImage } from "@skiff/protocol";
import { LayerStore } from "../images/layer-store.js";

const SHA256 = /^[0-9a-f]{64}$/;

/** One part of an archive, as the control plane sends it. */
export type FetchPart = (offset: number) => Promise<{ data: Uint8Array; size: number }>;

/**
 * Images on a worker (docs/images.md, "On worker hosts"): each image's root file system,
 * fetched once from the control plane as an archive named by its sha256, written to disk part
 * by part (memory bounded by one part) while it is hashed, verified, and only then unpacked
 * into a layer of the same layout as the builder's (layers/<key>/meta.json and root/, moved
 * into place whole). A wrong or short archive is deleted and never becomes a layer. Layers past
 * the size limit are evicted least recently used first, never one a running container uses.
 */
export class LayerCache {
  readonly store: LayerStore;
  private readonly inflight = new Map<string, Promise<void>>();
  /** What the cache did, for logs and tests. */
  readonly stats = { hits: 0, fetches: 0, evictions: 0, corrupt: 0 };

  constructor(
    dir: string,
    private readonly limitBytes: number,
    /** Image keys of containers running here (not evicted). */
    private readonly inUse: () => Set<string>,
  ) {
    this.store = new LayerStore(dir);
  }

  /** Bytes of the images kept here. */
  get sizeBytes(): number {
    return this.store.all().reduce((n, l) => n + l.bytes, 0);
  }

  /** Makes image `img` present here: from the cache, or (once, however many ask) fetched. */
  ensure(img: RemoteImage, fetch: FetchPart): Promise<void> {
    if (!SHA256.test(img.key) || !SHA256.test(img.archive))
      return Promise.reject(
        new Error(`image ${JSON.stringify(img.key)} / archive ${JSON.stringify(img.archive)} is not a sha256`),
      );
    const have = this.store.get(img.key);
    if (have && have.step === stepOf(img.archive) && existsSync(this.store.rootOf(have))) {
      this.store.touch(img.key);
      this.stats.hits++;
      return Promise.resolve();
    }
    let p = this.inflight.get(img.key);
    if (!p) {
      p = this.fetch(img, fetch).finally(() => this.inflight.delete(img.key));
      this.inflight.set(img.key, p);
    }
    return p;
  }

  /** Root, env and working directory of an image that is here (the local provider's resolver). */
  resolve(key: string): { root: string; env: Record<string, string>; workdir: string | undefined } | undefined {
    return this.store.resolve(key);
  }

  private async fetch(img: RemoteImage, fetchPart: FetchPart): Promise<void> {
    const scratch = this.store.scratch(img.key);
    try {
      const root = join(scratch, "root");
      mkdirSync(root);
      // Unpacked as it arrives (no second copy on disk), into scratch space that becomes a
      // layer only once the whole archive hashed right: a bad one is discarded with it.
      const { sha256, tarError } = await downloadInto(img, fetchPart, root);
      if (sha256 !== img.archive) {
        this.stats.corrupt++;
        throw new Error(
          `image archive ${short(img.archive)} arrived with the wrong content (sha256 ${short(sha256)}): not used, not cached`,
        );
      }
      if (tarError) throw new Error(`image archive ${short(img.archive)} could not be unpacked: ${tarError}`);
      this.store.commit(scratch, {
        key: img.key,
        parent: null,
        step: stepOf(img.archive),
        rootKey: img.key,
        env: img.env,
        workdir: img.workdir,
        bytes: img.size,
        createdAt: Date.now(),
      });
      this.stats.fetches++;
    } catch (err) {
      void this.store.removeSoon({ scratch });
      throw err;
    }
    this.evict(img.key);
  }

  /** Least recently used images out until under the limit (not those in use, nor the one just fetched). */
  private evict(keep: string): void {
    const layers = this.store.all().sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    let total = layers.reduce((n, l) => n + l.bytes, 0);
    const busy = this.inUse();
    for (const l of layers) {
      if (total <= this.limitBytes) break;
      if (l.key === keep || busy.has(l.key) || this.inflight.has(l.key)) continue;
      void this.store.removeSoon({ key: l.key });
      this.stats.evictions++;
      total -= l.bytes;
    }
  }

  close(): void {
    this.store.close();
  }
}

/** Parts requested at once: the link's round trips overlap; memory stays at this many parts. */
const PARTS_IN_FLIGHT = 4;

/**
 * Fetches the archive's parts (a few at a time) and feeds them, in order, to tar unpacking
 * into `root` while hashing them. Checks the parts add up to the size the spec named. Returns
 * the hash, and tar's complaint if it failed (the hash decides which error is reported).
 */
async function downloadInto(
  img: RemoteImage,
  fetchPart: FetchPart,
  root: string,
): Promise<{ sha256: string; tarError: string | undefined }> {
  const child = spawn("tar", ["--extract", "--file", "-", "--directory", root, "--numeric-owner"], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (t: string) => {
    if (stderr.length < 4096) stderr += t;
  });
  let dead = false;
  child.stdin.on("error", () => (dead = true)); // tar gave up: the hash still decides
  const exited = new Promise<number | null>((resolve) => {
    child.on("error", (e) => {
      stderr ||= `tar could not run: ${e.message}`;
      dead = true;
      resolve(-1);
    });
    child.on("exit", (code) => {
      dead = true;
      resolve(code);
    });
  });
  const hash = createHash("sha256");
  try {
    const check = (part: { data: Uint8Array; size: number }, offset: number, want: number) => {
      if (part.size !== img.size)
        throw new Error(
          `the control plane says image archive ${short(img.archive)} has ${part.size} bytes, not ${img.size}`,
        );
      if (part.data.byteLength !== want || want === 0)
        throw new Error(
          `image archive ${short(img.archive)}: the part at ${offset} has ${part.data.byteLength} bytes, not ${want}`,
        );
    };
    // The first part tells the part size the control plane uses.
    const first = await fetchPart(0);
    check(first, 0, Math.min(first.data.byteLength || 1, img.size));
    const step = first.data.byteLength;
    const inFlight = new Map<number, Promise<{ data: Uint8Array; size: number }>>();
    let asked = step;
    for (let offset = 0; offset < img.size; offset += step) {
      while (asked < img.size && inFlight.size < PARTS_IN_FLIGHT) {
        const p = fetchPart(asked);
        p.catch(() => {}); // awaited in order below
        inFlight.set(asked, p);
        asked += step;
      }
      const part = offset === 0 ? first : await inFlight.get(offset)!;
      inFlight.delete(offset);
      check(part, offset, Math.min(step, img.size - offset));
      hash.update(part.data);
      if (!dead && !child.stdin.write(part.data))
        await new Promise<void>((r) => {
          const done = () => {
            child.stdin.off("drain", done);
            r();
          };
          child.stdin.once("drain", done);
          void exited.then(done);
        });
    }
    child.stdin.end();
    const code = await exited;
    return {
      sha256: hash.digest("hex"),
      tarError: code === 0 ? undefined : stderr.trim() || `tar exited with ${code}`,
    };
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw err;
  }
}

/** What a fetched layer records as its step: the archive it came from (checked on a hit). */
const stepOf = (archive: string) => `fetched archive ${archive}`;
const short = (h: string) => `${h.slice(0, 12)}…`;
