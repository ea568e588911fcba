import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { BuildOptions, build, Plugin } from "esbuild";
import { cachedBundle, cacheKey, keepBundle, stampsBefore } from "./bundle-cache.js";
import { UsageError } from "./errors.js";
import { VERSION } from "./version.js";

export interface Bundle {
  code: Uint8Array;
  hash: string;
  entry: string;
  /** The app's own source files in the bundle (not node_modules): what `skiff serve` watches. */
  inputs: string[];
  /** npm packages bundled in from the local node_modules. */
  packages: string[];
  /** Packages left external on purpose (those an image installs). */
  external: string[];
}

/** Lets CommonJS dependencies call require() for Node built-ins inside an ES module bundle. */
const BANNER =
  'import { createRequire as __skiffCreateRequire } from "node:module"; const require = __skiffCreateRequire(import.meta.url);';

/**
 * A package that does not resolve here stays external: an image may install it (api.md §1a,
 * `npmInstall`), where the container resolves it. Where nothing provides it, importing it fails
 * in the container, naming the package.
 */
const externalIfMissing: Plugin = {
  name: "skiff-external-if-missing",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === "skiff-probe" || args.path.startsWith("node:")) return undefined;
      const r = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: "skiff-probe",
      });
      if (r.errors.length > 0) return { path: args.path, external: true };
      return r;
    });
  },
};

/**
 * Bundles an app's entry file into one ES module. Names are kept (function names come from
 * exports, and stack traces stay readable); `skiff` stays external so the container runtime
 * provides the one copy of the SDK.
 */
export async function bundleApp(
  entryFile: string,
  externalPackages: string[] = [],
  opts: { cache?: boolean } = {},
): Promise<Bundle> {
  const entry = resolve(entryFile);
  if (!existsSync(entry) || !statSync(entry).isFile()) throw new UsageError(`no such file: ${entryFile}`);
  checkSdkVersion(entry);
  const options = {
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    keepNames: true,
    write: false,
    external: ["skiff", "skiff/*", ...externalPackages.flatMap((p) => [p, `${p}/*`])],
    banner: { js: BANNER },
    // Inline, with the sources as absolute file URLs: a stack trace made in a container
    // (which loads the map) points at the user's own .ts files and lines, wherever the
    // bundle was written.
    sourcemap: "inline",
    sourceRoot: `${pathToFileURL(process.cwd()).href}/`,
    sourcesContent: false,
    logLevel: "silent",
    legalComments: "none",
    metafile: true,
  } satisfies BuildOptions;
  const key = opts.cache ? cacheKey({ cli: VERSION, esbuild: esbuildVersion(), cwd: process.cwd(), options }) : "";
  const hit = opts.cache ? cachedBundle(key) : undefined;
  if (hit) return { code: hit.code, entry, external: externalPackages, ...hit.meta };
  const before = opts.cache ? stampsBefore(entry) : undefined;
  // Loaded on use, so commands that bundle nothing (`skiff --help`, `skiff app list`) do not load it.
  const esbuild = await import("esbuild");
  let result: Awaited<ReturnType<typeof build>>;
  try {
    result = await esbuild.build({ ...options, plugins: [externalIfMissing] });
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
  const packages = new Set<string>();
  for (const f of Object.keys(result.metafile?.inputs ?? {})) {
    const i = f.lastIndexOf("node_modules/");
    const m = i < 0 ? null : /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.slice(i));
    if (m) packages.add(m[1]!);
  }
  const meta = { hash: createHash("sha256").update(code).digest("hex"), inputs, packages: [...packages] };
  if (opts.cache) {
    const read = Object.keys(result.metafile?.inputs ?? {})
      .filter((f) => !f.includes(":"))
      .map((f) => resolve(f));
    keepBundle(key, code, meta, read, before);
  }
  return { code, entry, external: externalPackages, ...meta };
}

/** esbuild's version, from its package.json (not its API: loading that is what a cached bundle saves). */
function esbuildVersion(): string {
  try {
    const file = createRequire(import.meta.url).resolve("esbuild/package.json");
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

/**
 * The app runs against the CLI's copy of the SDK (`skiff` stays external), so the project's
 * own `skiff` must be the same version, or its types and its plain clients disagree with what runs.
 */
function checkSdkVersion(entry: string): void {
  const version = (req: NodeJS.Require): { version: string; file: string } | undefined => {
    try {
      const file = req.resolve("skiff/package.json");
      return { version: (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version, file };
    } catch {
      return undefined;
    }
  };
  const ours = version(createRequire(import.meta.url));
  const theirs = version(createRequire(entry));
  if (!ours || !theirs || theirs.version === ours.version || realpathSync(theirs.file) === realpathSync(ours.file))
    return;
  throw new UsageError(
    `this project has skiff ${theirs.version} (${relative(process.cwd(), theirs.file)}) but this skiff command is @skiff/cli ${VERSION}, which runs apps with skiff ${ours.version}: install the same version of both (npm i skiff@${ours.version} @skiff/cli@${VERSION})`,
  );
}
