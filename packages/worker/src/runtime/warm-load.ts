import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { prepareAppDir, skiffPackageDir } from "./load-bundle.js";

/**
 * What loading an app bundle costs the first time in a process, paid by a pooled runtime while
 * it waits for a container instead of on the way to the container's first input: the app
 * directory and its skiff link, Node's source-map support (enabled for the bundle anyway, and
 * loaded on first use), one ESM import of `skiff` from that directory (the resolver's package
 * lookup runs for the first time, and the SDK's entry module is compiled; the app's own import
 * then finds it loaded) with an app defined in it, and the Web Crypto module behind the
 * connection's first id. Together
 * 4-6 ms of CPU of a ~30 ms cold call on the 2-core VM (bench/RESULTS.md). The probe module
 * imports only the SDK, is removed once loaded, and runs before any container's code or
 * credentials are in the process. Gives up quietly (a runtime works without it); says whether
 * the probe loaded.
 */
export async function warmBundleLoad(): Promise<boolean> {
  try {
    globalThis.crypto.getRandomValues(new Uint8Array(1));
    const appDir = prepareAppDir(process.env.SKIFF_WORKDIR ?? process.cwd(), skiffPackageDir());
    process.setSourceMapsEnabled(true);
    const probe = join(appDir, `.skiff-warm-${process.pid}.mjs`);
    // An app defined and dropped: the SDK's first App and function definition (and the stack
    // an unnamed function's definition reads) run here. Nothing is registered anywhere.
    writeFileSync(probe, 'import { App } from "skiff";\nnew App("skiff-warm").function(async (x) => x);\n');
    try {
      await import(pathToFileURL(probe).href);
    } finally {
      rmSync(probe, { force: true });
    }
    return true;
  } catch {
    // A read-only work directory, say: the container's first bundle load runs cold.
    return false;
  }
}
