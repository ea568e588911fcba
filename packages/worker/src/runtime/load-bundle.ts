import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * Directory of the `skiff` package this runtime uses: the bundle must import the same copy.
 * The bundled runtime carries the SDK's entry points beside it, in skiff/ (scripts/bundle-runtime.mjs).
 */
export function skiffPackageDir(): string {
  const bundled = fileURLToPath(new URL("./skiff", import.meta.url));
  if (existsSync(join(bundled, "package.json"))) return bundled;
  const require = createRequire(import.meta.url);
  return dirname(require.resolve("skiff/package.json"));
}

/**
 * Writes the app bundle into the container's private work directory, next to a
 * node_modules/skiff link to the runtime's own copy of the SDK, and imports it. The link
 * makes `import "skiff"` in the bundle resolve to the module the runtime already loaded,
 * so registries, currentInputId() and error classes are shared.
 */
export async function loadBundle(
  workdir: string,
  bundle: Uint8Array,
  skiffDir: string,
): Promise<{ exports: Record<string, unknown>; url: string }> {
  const appDir = prepareAppDir(workdir, skiffDir);
  // In an image: its npm packages beside skiff, so the bundle's imports of them resolve
  // (links resolve to their real paths, where the packages find their own dependencies).
  const imageModules = process.env.SKIFF_NODE_MODULES;
  if (imageModules && existsSync(imageModules)) {
    for (const name of readdirSync(imageModules)) {
      if (name === "skiff" || name.startsWith(".")) continue;
      try {
        symlinkSync(join(imageModules, name), join(appDir, "node_modules", name), "dir");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
  }
  const file = join(appDir, "bundle.mjs");
  writeFileSync(file, bundle);
  const url = pathToFileURL(file).href;
  // The bundle carries its source map: stacks of errors thrown in it name the app's .ts files.
  process.setSourceMapsEnabled(true);
  return { exports: (await import(url)) as Record<string, unknown>, url };
}

/**
 * The directory the app bundle is written to, with its node_modules/skiff link (made here, or
 * already there: a pooled runtime makes it while it waits, warm-load.ts).
 */
export function prepareAppDir(workdir: string, skiffDir: string): string {
  const appDir = join(workdir, "skiff-app");
  mkdirSync(join(appDir, "node_modules"), { recursive: true });
  try {
    symlinkSync(skiffDir, join(appDir, "node_modules", "skiff"), "dir");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return appDir;
}
