import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { build } from "esbuild";
import { UsageError } from "./errors.js";

export interface Bundle {
  code: Uint8Array;
  hash: string;
  entry: string;
  /** The app's own source files in the bundle (not node_modules): what `skiff serve` watches. */
  inputs: string[];
}

/** Lets CommonJS dependencies call require() for Node built-ins inside an ES module bundle. */
const BANNER =
  'import { createRequire as __skiffCreateRequire } from "node:module"; const require = __skiffCreateRequire(import.meta.url);';

/**
 * Bundles an app's entry file into one ES module. Names are kept (function names come from
 * exports, and stack traces stay readable); `skiff` stays external so the container runtime
 * provides the one copy of the SDK.
 */
export async function bundleApp(entryFile: string): Promise<Bundle> {
  const entry = resolve(entryFile);
  if (!existsSync(entry) || !statSync(entry).isFile()) throw new UsageError(`no such file: ${entryFile}`);
  // Loaded on use, so commands that bundle nothing (`skiff --help`, `skiff app list`) do not load it.
  const esbuild = await import("esbuild");
  let result: Awaited<ReturnType<typeof build>>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      keepNames: true,
      write: false,
      external: ["skiff", "skiff/*"],
      banner: { js: BANNER },
      sourcemap: "inline",
      sourcesContent: false,
      logLevel: "silent",
      legalComments: "none",
      metafile: true,
    });
  } catch (err) {
    const errors = (
      err as {
        errors?: { text: string; location?: { file: string; line: number; column: number } }[];
      }
    ).errors;
    if (errors?.length) {
      const e = errors[0]!;
      const where = e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ` : "";
      throw new UsageError(`cannot bundle ${entryFile}: ${where}${e.text}`);
    }
    throw err;
  }
  const code = result.outputFiles![0]!.contents;
  const inputs = Object.keys(result.metafile?.inputs ?? {})
    .filter((f) => !f.includes("node_modules/") && !f.includes(":"))
    .map((f) => resolve(f));
  return { code, hash: createHash("sha256").update(code).digest("hex"), entry, inputs };
}
