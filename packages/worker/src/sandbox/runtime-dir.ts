import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RuntimeBundle } from "./runtime-bundle.js";
import { processTempDir } from "./temp-dirs.js";

/** Where a container sees the runtime directory. */
export const RUNTIME_INSIDE = "/opt/skiff-runtime";

/** The runtime's entry point inside a container, unbundled (a checkout whose bundle is stale). */
const GRAPH_ENTRY_INSIDE = `${RUNTIME_INSIDE}/node_modules/@skiff/worker/dist/runtime/main.js`;

/**
 * A directory of its own holding what the container runtime loads — its own code, the SDK,
 * the protocol and their dependencies, nothing else — mounted read-only into each sandbox:
 * the bundled runtime (runtime-bundle.ts) where there is one, else those packages' files.
 * Containers then see none of the project or installation Skiff runs from (sources, logs,
 * configuration an operator keeps there). One per server process, removed when it stops;
 * those of server processes that are gone are removed at the next start.
 */
export class RuntimeDir {
  readonly path: string;
  /** The runtime's entry point inside a container. */
  readonly entryInside: string;

  constructor(bundle?: RuntimeBundle) {
    this.path = processTempDir("skiff-runtime");
    if (bundle) {
      copyTree(bundle.dir, this.path, (name) => name !== "inputs.json");
      this.entryInside = `${RUNTIME_INSIDE}/${bundle.entry}`;
    } else {
      this.entryInside = GRAPH_ENTRY_INSIDE;
      this.copyGraph();
    }
    for (const d of walkDirs(this.path)) chmodSync(d, 0o755);
    // A process that exits without closing its provider (a second Ctrl-C) leaves nothing.
    process.once("exit", this.onExit);
  }

  private copyGraph(): void {
    const workerDir = packageRoot(fileURLToPath(import.meta.url));
    const modules = join(this.path, "node_modules");
    // The worker: only its runtime (not the provider, not the sandbox code).
    copyPackage(workerDir, join(modules, "@skiff/worker"), ["dist/runtime"]);
    const seen = new Set<string>(["@skiff/worker"]);
    const queue: { name: string; from: string }[] = dependencies(workerDir)
      .filter((d) => d !== "@skiff/server") // imported for types only
      .map((name) => ({ name, from: workerDir }));
    while (queue.length > 0) {
      const { name, from } = queue.shift()!;
      if (seen.has(name)) continue;
      const dir = findPackage(name, from);
      if (!dir) continue; // an optional dependency that is not installed
      seen.add(name);
      const pkg = readJson(join(dir, "package.json"));
      // Workspace packages ship what their `files` list says (dist), not their sources.
      const files = Array.isArray(pkg.files) && dir.includes("/packages/") ? (pkg.files as string[]) : undefined;
      copyPackage(dir, join(modules, name), files);
      for (const d of dependencies(dir)) queue.push({ name: d, from: dir });
    }
  }

  private readonly onExit = () => rmSync(this.path, { recursive: true, force: true });

  async remove(): Promise<void> {
    // The exit hook stays until it is gone: an exit meanwhile (a second Ctrl-C) still removes it.
    await rm(this.path, { recursive: true, force: true });
    process.off("exit", this.onExit);
  }
}

function packageRoot(file: string): string {
  let d = dirname(file);
  while (!existsSync(join(d, "package.json"))) d = dirname(d);
  return d;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}

function dependencies(dir: string): string[] {
  const pkg = readJson(join(dir, "package.json"));
  return [
    ...Object.keys((pkg.dependencies as object) ?? {}),
    ...Object.keys((pkg.optionalDependencies as object) ?? {}),
  ];
}

/** Node's lookup: `node_modules/<name>` in the dependent's folder and each folder above it. */
function findPackage(name: string, from: string): string | undefined {
  for (let d = from; ; d = dirname(d)) {
    const p = join(d, "node_modules", name);
    if (existsSync(join(p, "package.json"))) return realpathSync(p);
    if (dirname(d) === d) return undefined;
  }
}

function copyPackage(src: string, dst: string, only: string[] | undefined): void {
  const skip = (p: string) => p.includes("/node_modules/", src.length) || p.endsWith(".map") || p.endsWith(".d.ts");
  if (!only) {
    cpSync(src, dst, { recursive: true, dereference: true, filter: (p) => !skip(p) });
    return;
  }
  cpSync(join(src, "package.json"), join(dst, "package.json"));
  for (const f of only) {
    if (existsSync(join(src, f)))
      cpSync(join(src, f), join(dst, f), { recursive: true, dereference: true, filter: (p) => !skip(p) });
  }
}

/** A few files and folders, copied (fs.cpSync spends tens of ms checking parents and stats on them). */
function copyTree(src: string, dst: string, keep: (name: string) => boolean): void {
  mkdirSync(dst, { recursive: true });
  for (const e of readdirSync(src, { withFileTypes: true })) {
    if (!keep(e.name)) continue;
    if (e.isDirectory()) copyTree(join(src, e.name), join(dst, e.name), keep);
    else if (e.isFile()) copyFileSync(join(src, e.name), join(dst, e.name));
  }
}

function* walkDirs(dir: string): Generator<string> {
  yield dir;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) yield* walkDirs(join(dir, e.name));
}
