// Runs in a worker thread for `skiff serve`: imports one bundle, reports its app's name and
// function specs, and exits, so a reload does not keep the previous versions' modules alive.
import { parentPort, workerData } from "node:worker_threads";
import type { Bundle } from "./bundle.js";
import { loadApps, pickApp, removeLoadedBundles } from "./load-app.js";

const bundle = workerData as Bundle;
let reply: unknown;
try {
  const app = pickApp(await loadApps(bundle), bundle.entry);
  reply = { ok: true, name: app.name, specs: app._specs() };
} catch (err) {
  reply = { ok: false, message: (err as Error).message ?? String(err) };
}
// The parent terminates this thread on the reply, before any exit hook could run.
removeLoadedBundles();
parentPort!.postMessage(reply);
