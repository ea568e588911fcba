import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type App, resolveApps } from "skiff";
import type { Bundle } from "./bundle.js";
import { UsageError } from "./errors.js";
import { makeTempDir, removeTempDir } from "./temp-dirs.js";

// The directories loadApps made in this thread: each holds one bundle and a link to the SDK.
const loaded: string[] = [];

/**
 * Imports a bundle in this process, with `skiff` resolving to the CLI's own copy, so that
 * the App objects it defines are the ones the CLI binds to the server. The files live in a
 * temporary directory of this process (removed by removeLoadedBundles, or at exit): code of
 * the bundle may still import `skiff` while it runs.
 */
export async function loadApps(bundle: Bundle): Promise<App[]> {
  const skiffDir = sdkDir();
  const dir = makeTempDir("skiff-app-");
  loaded.push(dir);
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(skiffDir, join(dir, "node_modules", "skiff"), "dir");
  const file = join(dir, "bundle.mjs");
  writeFileSync(file, bundle.code);
  // Stacks of errors thrown here (in a localEntrypoint) name the app's .ts files, as in containers.
  process.setSourceMapsEnabled(true);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    // A package the bundle left external (not installed here) imported at the top level.
    const e = err as NodeJS.ErrnoException;
    const pkg = e.code === "ERR_MODULE_NOT_FOUND" ? /Cannot find package '([^']+)'/.exec(e.message)?.[1] : undefined;
    if (pkg)
      throw new UsageError(
        `${bundle.entry} imports "${pkg}" at the top level, and it is not installed here; install it (npm install ${pkg}), or, if only the function's image has it (npmInstall), import it inside the function: const m = await import("${pkg}")`,
      );
    throw err;
  }
  const apps = resolveApps(exports);
  if (apps.length === 0)
    throw new UsageError(`${bundle.entry} defines no app: export \`const app = new App("name")\` and its functions`);
  return apps;
}

/**
 * The SDK this CLI runs: in the bundled CLI (scripts/bundle-cli.mjs), its skiff/ folder beside
 * this module, whose chunks the CLI shares; else the `skiff` package.
 */
function sdkDir(): string {
  const bundled = fileURLToPath(new URL("./skiff", import.meta.url));
  if (existsSync(join(bundled, "package.json"))) return bundled;
  return dirname(createRequire(import.meta.url).resolve("skiff/package.json"));
}

/** Removes the files of every bundle loaded so far in this thread. */
export function removeLoadedBundles(): void {
  for (const dir of loaded.splice(0)) removeTempDir(dir);
}

/** The one app of the module (several apps need an explicit choice). */
export function pickApp(apps: App[], file: string): App {
  if (apps.length > 1)
    throw new UsageError(
      `${file} defines ${apps.length} apps (${apps.map((a) => a.name).join(", ")}); put each in its own file`,
    );
  return apps[0]!;
}
