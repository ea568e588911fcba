import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

// App bundles of `skiff run`, kept between runs: esbuild costs a run ~50 ms of CPU (loading
// its JS API, starting its binary, building), beside the embedded server's start on the
// same cores. A bundle is reused only while everything that could change it is as it was:
// each file that went in (size, mtime, ctime, inode), and, in every folder above one, the folder itself
// (a file added or removed there can change what an import resolves to), its node_modules
// (a package installed or removed), and its package.json, tsconfig.json and jsconfig.json
// (module type, exports, paths, JSX settings), present or not. Anything else esbuild reads
// is one of those. Bounded: the newest MAX_ENTRIES bundles and MAX_BYTES of code.

const MAX_ENTRIES = 16;
const MAX_BYTES = 64 * 1024 * 1024;
/** Files in each folder above an input whose change can change the bundle. */
const BESIDE = ["", "node_modules", "package.json", "tsconfig.json", "jsconfig.json"];

/** What a cached bundle needs besides its code. */
export interface CachedMeta {
  hash: string;
  inputs: string[];
  packages: string[];
}

interface Entry extends CachedMeta {
  /** Path → "size:mtimeMs:ctimeMs:ino", or "-" for one that was not there. */
  stamps: Record<string, string>;
}

/** The cache folder: $SKIFF_BUNDLE_CACHE_DIR, else ~/.skiff/cache/bundles; SKIFF_BUNDLE_CACHE=0 turns it off. */
function cacheDir(): string | undefined {
  if (process.env.SKIFF_BUNDLE_CACHE === "0") return undefined;
  return process.env.SKIFF_BUNDLE_CACHE_DIR || join(process.env.HOME || homedir(), ".skiff", "cache", "bundles");
}

/** The key of one build: its options (the entry, the working directory, externals) and the tools' versions. */
export function cacheKey(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);
}

function stamp(path: string): string {
  try {
    const s = statSync(path);
    // ctime and inode too: tools that restore a file's mtime (cp -p, tar, rsync -t) cannot set
    // its ctime, and a file replaced by rename is another inode.
    return `${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`;
  } catch {
    return "-";
  }
}

/** The stamps of every input (absolute paths) and of what beside their folders could change the build. */
function stampsOf(files: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const dirs = new Set<string>();
  for (const f of files) {
    out[f] = stamp(f);
    for (let d = dirname(f); !dirs.has(d); d = dirname(d)) {
      dirs.add(d);
      if (dirname(d) === d) break;
    }
  }
  for (const d of dirs) for (const b of BESIDE) out[b ? join(d, b) : d] = stamp(b ? join(d, b) : d);
  return out;
}

/** The bundle built with `key`, when nothing it was made from has changed since. */
export function cachedBundle(key: string): { code: Uint8Array; meta: CachedMeta } | undefined {
  const dir = cacheDir();
  if (!dir) return undefined;
  let entry: Entry;
  try {
    entry = JSON.parse(readFileSync(join(dir, `${key}.json`), "utf8")) as Entry;
  } catch {
    return undefined;
  }
  for (const [path, was] of Object.entries(entry.stamps)) if (stamp(path) !== was) return undefined;
  let code: Uint8Array;
  try {
    code = readFileSync(join(dir, `${key}.js`));
  } catch {
    return undefined;
  }
  if (createHash("sha256").update(code).digest("hex") !== entry.hash) return undefined;
  try {
    const now = new Date();
    utimesSync(join(dir, `${key}.js`), now, now); // the newest used: kept longest (prune)
  } catch {}
  return { code, meta: { hash: entry.hash, inputs: entry.inputs, packages: entry.packages } };
}

/**
 * Keeps a bundle for the next run. `files`: every file esbuild read for it (absolute). Stamped
 * before the build started (`before`), so a file changed while it ran is not taken as built.
 * Failures are ignored: the cache only saves time.
 */
export function keepBundle(
  key: string,
  code: Uint8Array,
  meta: CachedMeta,
  files: string[],
  before: Record<string, string> | undefined,
): void {
  const dir = cacheDir();
  if (!dir) return;
  try {
    const stamps = stampsOf(files);
    // The entry was stamped before the build: changed during it, the result may be of either.
    if (before && Object.entries(before).some(([p, s]) => stamps[p] !== s)) return;
    mkdirSync(dir, { recursive: true });
    const tmp = `.${key}.${process.pid}`;
    writeFileSync(join(dir, `${tmp}.js`), code);
    renameSync(join(dir, `${tmp}.js`), join(dir, `${key}.js`));
    writeFileSync(join(dir, `${tmp}.json`), JSON.stringify({ ...meta, stamps } satisfies Entry));
    renameSync(join(dir, `${tmp}.json`), join(dir, `${key}.json`));
    prune(dir);
  } catch {}
}

/** Stamps of the entry file and its folders, taken before a build (see keepBundle). */
export function stampsBefore(entry: string): Record<string, string> | undefined {
  return cacheDir() ? stampsOf([entry]) : undefined;
}

/** Keeps the newest MAX_ENTRIES bundles, at most MAX_BYTES of code; and no half-written file of a writer that died. */
function prune(dir: string): void {
  const names = readdirSync(dir);
  for (const n of names) {
    if (!n.startsWith(".")) continue;
    const s = statSync(join(dir, n), { throwIfNoEntry: false });
    if (s && Date.now() - s.mtimeMs > 60_000) rmSync(join(dir, n), { force: true });
  }
  const entries = names
    .filter((n) => n.endsWith(".js") && !n.startsWith("."))
    .map((n) => {
      const s = statSync(join(dir, n), { throwIfNoEntry: false });
      return { key: n.slice(0, -3), size: s?.size ?? 0, mtime: s?.mtimeMs ?? 0 };
    })
    .sort((a, b) => b.mtime - a.mtime);
  let bytes = 0;
  entries.forEach((e, i) => {
    bytes += e.size;
    if (i < MAX_ENTRIES && bytes <= MAX_BYTES) return;
    rmSync(join(dir, `${e.key}.json`), { force: true });
    rmSync(join(dir, `${e.key}.js`), { force: true });
  });
}
