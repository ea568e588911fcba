import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The bundled runtime (scripts/bundle-runtime.mjs): its folder, entry and worker-thread entry beside. */
const BUNDLE_DIR = fileURLToPath(new URL("../runtime-bundle/", import.meta.url));

export interface RuntimeBundle {
  /** The folder to copy or mount: main.js, thread-main.js, chunks, skiff/. */
  dir: string;
  /** Its entry point, relative to dir. */
  entry: "main.js";
}

let checked: { bundle: RuntimeBundle | undefined; why: string | undefined } | undefined;

/**
 * The bundled runtime when it is there and no newer than what it was made from; otherwise
 * containers load the runtime's module graph as tsc wrote it (slower to start, same code), and
 * `why` says so. A checkout where `tsc -b` ran after the bundle was made would otherwise run
 * yesterday's runtime. An installed package's bundle was made by its own prepack, from the
 * sources published beside it: not checked there.
 */
export function runtimeBundle(): { bundle: RuntimeBundle | undefined; why: string | undefined } {
  checked ??= check();
  return checked;
}

function check(): { bundle: RuntimeBundle | undefined; why: string | undefined } {
  const manifest = join(BUNDLE_DIR, "inputs.json");
  if (!existsSync(manifest) || !existsSync(join(BUNDLE_DIR, "main.js")))
    return { bundle: undefined, why: "the runtime is not bundled (run `npm run build`)" };
  if (BUNDLE_DIR.includes("/node_modules/")) return { bundle: { dir: BUNDLE_DIR, entry: "main.js" }, why: undefined };
  const built = statSync(manifest).mtimeMs;
  for (const rel of JSON.parse(readFileSync(manifest, "utf8")) as string[]) {
    const file = join(BUNDLE_DIR, rel);
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      continue; // laid out otherwise where installed (the bundle's inputs were a checkout's paths)
    }
    if (mtime > built)
      return {
        bundle: undefined,
        why: `the runtime bundle is older than ${rel.replace(/^(\.\.\/)+/, "")} (run \`npm run build\`)`,
      };
  }
  return { bundle: { dir: BUNDLE_DIR, entry: "main.js" }, why: undefined };
}
