// Runs in a worker thread for `skiff serve`: imports one bundle, reports its app's name and
// function specs, and exits, so a reload does not keep the previous versions' modules alive.
import { parentPort, workerData } from "node:worker_threads";
import type { Bundle } from "./bundle.js";
import { loadApps, pickApp } from "./load-app.js";

const bundle = workerData as Bundle;
try {
  const app = pickApp(await loadApps(bundle), bundle.entry);
  parentPort!.postMessage({ ok: true, name: app.name, specs: app._specs() });
} catch (err) {
  parentPort!.postMessage({ ok: false, message: (err as Error).message ?? String(err) });
}
