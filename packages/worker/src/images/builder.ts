import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ImageBuildError,
  type ImageBuilder,
  type ImageBuildProgress,
  type ImageBuildStepResult,
  type ImageExport,
  type ImageLayerInfo,
  type ImageStepWire,
  type ImageWire,
  imageStepLabel,
} from "@skiff/protocol";
import { type BuildTools, probeBuildTools, which } from "./capability.js";
import { LayerExports } from "./layer-export.js";
import { type Layer, type LayerMeta, LayerStore } from "./layer-store.js";
import { copyTree, dedupeAgainst, linkTree, treeBytes } from "./layer-tree.js";
import { NODE_INSIDE, NPM_PROJECT, runHost, runStep } from "./run-step.js";
import { checkStep, ensureFile, stepArgv, writeLocalFiles } from "./steps.js";

/** Part of every key: a builder that makes different layers from the same steps bumps it. */
export const BUILDER_VERSION = "2";
/** Debian stable. */
export const SUITE = "bookworm";

export interface ImageBuilderOptions {
  /** Layers, build caches and scratch space. */
  dir: string;
  /** Layers beyond this are evicted, least recently used first, unless a live app uses them. @defaultValue 20 GiB */
  limitBytes?: number;
  /** apt and npm download caches are trimmed (oldest files first) to this. @defaultValue 4 GiB */
  cacheLimitBytes?: number;
  /** Image archives made for worker hosts are trimmed (least recently used first) to this. @defaultValue 8 GiB */
  exportLimitBytes?: number;
  log?: (msg: string) => void;
}

type Emit = (e: ImageBuildProgress) => void;

const sha256 = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");

/** The key of a layer: its parent, the step (less what does not change its result), the builder, the files it adds. */
export function layerKey(
  parent: string | null,
  step: ImageStepWire | { kind: "base"; suite: string },
  forceId?: string,
): string {
  const {
    forceBuild: _f,
    local: _l,
    blobId: _b,
    ...rest
  } = step as ImageStepWire & { local?: string; blobId?: string };
  return sha256(JSON.stringify([parent, rest, BUILDER_VERSION, forceId ?? null]));
}

/**
 * Builds images as layers on this host (architecture decision 9): the base from mmdebstrap in
 * user-namespace mode, each further step under bubblewrap as uid 0 in a user namespace on a
 * copy of its parent, unchanged files hard-linked to the parent's. One build per key at a time
 * in this process; a second asker waits for the first.
 */
export class LocalImageBuilder implements ImageBuilder {
  readonly store: LayerStore;
  private readonly limitBytes: number;
  private readonly cacheLimitBytes: number;
  private readonly building = new Map<string, Promise<Layer>>();
  private readonly abort = new AbortController();
  private inUse: () => Set<string> = () => new Set();
  private probed: BuildTools | string | undefined;
  private readonly log: (msg: string) => void;
  private readonly exports: LayerExports;

  constructor(o: ImageBuilderOptions) {
    this.store = new LayerStore(o.dir);
    this.limitBytes = o.limitBytes ?? 20 * 1024 ** 3;
    this.cacheLimitBytes = o.cacheLimitBytes ?? 4 * 1024 ** 3;
    this.log = o.log ?? ((m) => console.error(`[skiff] ${m}`));
    this.exports = new LayerExports(this.store, o.exportLimitBytes ?? 8 * 1024 ** 3, this.log);
  }

  /** The image as one archive for worker hosts (layer-export.ts). */
  export(key: string): Promise<ImageExport> {
    return this.exports.export(key);
  }

  private tools(): BuildTools | string {
    this.probed ??= probeBuildTools();
    return this.probed;
  }

  unavailable(): string | undefined {
    const t = this.tools();
    return typeof t === "string" ? t : undefined;
  }

  setInUse(fn: () => Set<string>): void {
    this.inUse = fn;
  }

  /** The root, env and working directory of a built image, for a container; marks it used. */
  resolve(key: string): { root: string; env: Record<string, string>; workdir: string | undefined } | undefined {
    return this.store.resolve(key);
  }

  async build(
    image: ImageWire,
    files: (blobId: string) => Promise<Uint8Array | undefined> | Uint8Array | undefined,
    onEvent: Emit = () => {},
  ): Promise<{ key: string; steps: ImageBuildStepResult[] }> {
    const tools = this.tools();
    if (typeof tools === "string") throw new ImageBuildError(tools);
    if (image?.base !== "debian-slim" || !Array.isArray(image.steps))
      throw new ImageBuildError('an image is { base: "debian-slim", steps: [...] }');
    if (image.steps.length > 100) throw new ImageBuildError("an image has at most 100 steps");
    const labels = image.steps.map((s, i) => `Image step ${i + 1} (${imageStepLabel(s)})`);
    image.steps.forEach((s, i) => {
      const bad = checkStep(labels[i]!, s);
      if (bad) throw new ImageBuildError(bad);
    });
    // Uploaded files are read before the first step: the blob sweeper takes an upload that no
    // call refers to after a grace of seconds, and the steps before it can take minutes.
    const uploads = new Map<string, Uint8Array>();
    for (const s of image.steps) {
      if ((s.kind === "dir" || s.kind === "file") && s.blobId && !uploads.has(s.blobId)) {
        const blob = await files(s.blobId);
        if (blob) uploads.set(s.blobId, blob);
      }
    }
    const fetched = (id: string) => uploads.get(id) ?? files(id);
    const results: ImageBuildStepResult[] = [];
    const baseStep = { kind: "base" as const, suite: SUITE };
    let parent = await this.layer(layerKey(null, baseStep), 0, `base debian-slim (${SUITE})`, results, onEvent, (dir) =>
      this.makeBase(tools, dir, onEvent),
    );
    let forced = false;
    for (const [i, step] of image.steps.entries()) {
      forced ||= step.forceBuild === true;
      const key = layerKey(parent.key, step, forced ? (image.forceBuildId ?? String(Date.now())) : undefined);
      const p = parent;
      parent = await this.layer(key, i + 1, imageStepLabel(step), results, onEvent, (dir) =>
        this.makeStep(tools, p, key, step, labels[i]!, dir, fetched, (text) =>
          onEvent({ kind: "output", index: i + 1, text }),
        ),
      );
    }
    this.trim(parent.key);
    return { key: parent.key, steps: results };
  }

  /** One layer: from the store, from a build already running for the same key, or built now. */
  private async layer(
    key: string,
    index: number,
    label: string,
    results: ImageBuildStepResult[],
    onEvent: Emit,
    make: (scratch: string) => Promise<Omit<LayerMeta, "key" | "createdAt">>,
  ): Promise<Layer> {
    const t0 = Date.now();
    const stored = this.store.get(key);
    if (stored) {
      this.store.touch(key);
      onEvent({ kind: "step", index, label, key, cached: true });
      onEvent({ kind: "done", index, key, cached: true, durationMs: 0 });
      results.push({ label, key, cached: true, durationMs: 0 });
      return stored;
    }
    let running = this.building.get(key);
    const mine = !running;
    onEvent({ kind: "step", index, label, key, cached: false });
    if (!running) {
      running = (async () => {
        const scratch = this.store.scratch(key);
        try {
          const meta = await make(scratch);
          this.store.commit(scratch, { ...meta, rootKey: meta.rootKey || key, key, createdAt: Date.now() });
        } catch (err) {
          this.store.discard(scratch);
          if (this.abort.signal.aborted)
            throw new ImageBuildError(`${label}: the build was stopped (the server is shutting down)`);
          throw err;
        }
        const layer = this.store.get(key);
        if (!layer) throw new ImageBuildError(`${label}: the layer vanished right after it was built`);
        return layer;
      })();
      this.building.set(key, running);
      running.then(
        () => this.building.delete(key),
        () => this.building.delete(key),
      );
    } else {
      onEvent({ kind: "output", index, text: "another deploy is building this layer: waiting for it\n" });
    }
    const layer = await running;
    const durationMs = Date.now() - t0;
    onEvent({ kind: "done", index, key, cached: !mine, durationMs });
    results.push({ label, key, cached: !mine, durationMs });
    return layer;
  }

  private async makeBase(
    tools: BuildTools,
    scratch: string,
    onEvent: Emit,
  ): Promise<Omit<LayerMeta, "key" | "createdAt">> {
    const root = join(scratch, "root");
    const args = ["--mode=unshare", "--variant=minbase", "--format=directory", SUITE, root];
    // The build dies with the server (setpriv from util-linux), so a killed server leaves no worker behind.
    const setpriv = which("setpriv");
    const [file, argv] = setpriv
      ? [setpriv, ["--pdeathsig", "SIGKILL", "--", tools.mmdebstrap, ...args]]
      : [tools.mmdebstrap, args];
    const { code, tail } = await runHost(
      file,
      argv,
      (text) => onEvent({ kind: "output", index: 0, text }),
      this.abort.signal,
    );
    if (code !== 0)
      throw new ImageBuildError(`Image base (debian-slim) failed: mmdebstrap exited with status ${code}:\n${tail}`);
    // Where the runtime's Node is bound in, in the build and in containers; node/npm on PATH.
    ensureFile(join(root, NODE_INSIDE, "bin", "node"));
    ensureFile(join(root, "opt", "skiff", "ca.crt"));
    mkdirSync(join(root, NODE_INSIDE, "lib", "node_modules", "npm"), { recursive: true });
    mkdirSync(join(root, "root", ".npm"), { recursive: true });
    mkdirSync(join(root, "usr", "local", "bin"), { recursive: true });
    symlinkSync(`${NODE_INSIDE}/bin/node`, join(root, "usr", "local", "bin", "node"));
    symlinkSync(`${NODE_INSIDE}/lib/node_modules/npm/bin/npm-cli.js`, join(root, "usr", "local", "bin", "npm"));
    // mmdebstrap copies the host's name and hosts file: an image carries nothing of the host.
    writeFileSync(join(root, "etc", "hostname"), "skiff\n");
    writeFileSync(
      join(root, "etc", "hosts"),
      "127.0.0.1\tlocalhost skiff\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    );
    writeFileSync(join(root, "etc", "resolv.conf"), "");
    return {
      parent: null,
      step: `base debian-slim (${SUITE})`,
      rootKey: "", // filled below
      env: { NODE_PATH: `${NPM_PROJECT}/node_modules` },
      workdir: undefined,
      bytes: treeBytes(root),
    };
  }

  private async makeStep(
    tools: BuildTools,
    parent: Layer,
    key: string,
    step: ImageStepWire,
    where: string,
    scratch: string,
    files: (blobId: string) => Promise<Uint8Array | undefined> | Uint8Array | undefined,
    onOutput: (text: string) => void,
  ): Promise<Omit<LayerMeta, "key" | "createdAt">> {
    const parentRoot = this.store.rootOf(parent);
    const base = { parent: parent.key, step: imageStepLabel(step), env: parent.env, workdir: parent.workdir };
    const root = join(scratch, "root");
    switch (step.kind) {
      case "env":
        return { ...base, rootKey: parent.rootKey, env: { ...parent.env, ...step.vars }, bytes: 0 };
      case "workdir":
        if (existsSync(join(parentRoot, step.path)))
          return { ...base, rootKey: parent.rootKey, workdir: step.path, bytes: 0 };
        await linkTree(parentRoot, root, this.abort.signal);
        mkdirSync(join(root, step.path), { recursive: true });
        return { ...base, rootKey: key, workdir: step.path, bytes: 0 };
      case "dir":
      case "file": {
        const blob = await files(step.blobId!);
        if (!blob)
          throw new ImageBuildError(`${where}: the uploaded files (blob ${step.blobId}) are not on the server`);
        if (sha256(blob) !== step.sha256)
          throw new ImageBuildError(`${where}: the uploaded files do not match their hash`);
        await linkTree(parentRoot, root, this.abort.signal);
        let bytes: number;
        try {
          bytes = writeLocalFiles(root, step, blob);
        } catch (err) {
          throw new ImageBuildError(`${where}: ${(err as Error).message}`);
        }
        onOutput(`copied ${bytes} bytes to ${step.remote}\n`);
        return { ...base, rootKey: key, bytes };
      }
      default: {
        if (step.kind === "npm" && !tools.npmDir)
          throw new ImageBuildError(`${where}: this Node (${tools.node}) has no npm beside it to install with`);
        const argv = stepArgv(step)!;
        await copyTree(parentRoot, root, this.abort.signal);
        const { code, tail } = await runStep(tools, {
          root,
          cacheDir: this.store.cacheDir,
          env: parent.env,
          workdir: parent.workdir,
          argv,
          onOutput,
          signal: this.abort.signal,
        });
        if (code !== 0) throw new ImageBuildError(`${where} failed with exit status ${code}:\n${tail.trimEnd()}`);
        return { ...base, rootKey: key, bytes: dedupeAgainst(parentRoot, root) };
      }
    }
  }

  /** Chains of the images live apps use (every layer on them is kept). */
  private protectedKeys(inUse: Iterable<string>): Set<string> {
    const keep = new Set<string>();
    for (const k of inUse) {
      let layer = this.store.get(k);
      while (layer && !keep.has(layer.key)) {
        keep.add(layer.key);
        keep.add(layer.rootKey);
        layer = layer.parent ? this.store.get(layer.parent) : undefined;
      }
    }
    return keep;
  }

  /** Evicts least recently used layers no live app uses (nor the image just built) until under the limit; trims the caches. */
  private trim(justBuilt: string): void {
    try {
      const layers = this.store.all().sort((a, b) => a.lastUsedAt - b.lastUsedAt);
      let total = layers.reduce((n, l) => n + l.bytes, 0);
      if (total > this.limitBytes) {
        // The image just built is about to be published: it counts as used.
        const keep = this.protectedKeys([...this.inUse(), justBuilt]);
        for (const l of layers) {
          if (total <= this.limitBytes) break;
          if (keep.has(l.key) || this.building.has(l.key)) continue;
          this.log(`image layer ${l.key.slice(0, 12)} (${l.step}) evicted: layers over ${this.limitBytes} bytes`);
          this.store.remove(l.key);
          total -= l.bytes;
        }
      }
      trimCache(this.store.cacheDir, this.cacheLimitBytes);
    } catch (err) {
      this.log(`could not trim the image store: ${(err as Error).message}`);
    }
  }

  list(inUse: Map<string, string[]>): { layers: ImageLayerInfo[]; bytes: number; limitBytes: number } {
    const apps = new Map<string, Set<string>>();
    for (const [k, names] of inUse) {
      for (const key of this.protectedKeys([k])) {
        const s = apps.get(key) ?? new Set<string>();
        for (const n of names) s.add(n);
        apps.set(key, s);
      }
    }
    const layers = this.store.all().map((l) => ({
      key: l.key,
      parent: l.parent,
      step: l.step,
      bytes: l.bytes,
      createdAt: l.createdAt,
      lastUsedAt: l.lastUsedAt,
      apps: [...(apps.get(l.key) ?? [])].sort(),
    }));
    layers.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
    return { layers, bytes: layers.reduce((n, l) => n + l.bytes, 0), limitBytes: this.limitBytes };
  }

  prune(inUse: Set<string>): { removed: number; bytes: number } {
    const keep = this.protectedKeys(inUse);
    let removed = 0;
    let bytes = 0;
    for (const l of this.store.all()) {
      if (keep.has(l.key) || this.building.has(l.key)) continue;
      this.store.remove(l.key);
      removed++;
      bytes += l.bytes;
    }
    return { removed, bytes };
  }

  /** Stops builds in progress and removes their scratch directories. */
  close(): void {
    this.abort.abort();
    this.store.close();
  }
}

/** Deletes the oldest files of the download caches until they fit. */
function trimCache(dir: string, limit: number): void {
  const files: { p: string; size: number; mtime: number }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) files.push({ p, size: st.size, mtime: st.mtimeMs });
    }
  };
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
  walk(dir);
  let total = files.reduce((n, f) => n + f.size, 0);
  if (total <= limit) return;
  files.sort((a, b) => a.mtime - b.mtime);
  for (const f of files) {
    if (total <= limit) break;
    rmSync(f.p, { force: true });
    total -= f.size;
  }
}
