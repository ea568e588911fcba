import { Worker } from "node:worker_threads";
import type { FunctionSpec } from "@skiff/protocol";
import type { Bundle } from "./bundle.js";
import { UsageError } from "./errors.js";

/**
 * The app name and function specs of a bundle, read in a short-lived worker thread: an import
 * cannot be undone, so `skiff serve` would otherwise keep every version it ever loaded.
 */
export function loadSpecs(bundle: Bundle): Promise<{ name: string; specs: FunctionSpec[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./load-specs-worker.js", import.meta.url), { workerData: bundle });
    w.once("message", (m: { ok: true; name: string; specs: FunctionSpec[] } | { ok: false; message: string }) => {
      if (m.ok) resolve({ name: m.name, specs: m.specs });
      else reject(new UsageError(m.message));
      void w.terminate();
    });
    w.once("error", (err) => reject(err));
    w.once("exit", (code) => reject(new Error(`loading ${bundle.entry} stopped (exit ${code})`)));
  });
}
