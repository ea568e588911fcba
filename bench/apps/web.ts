// The web endpoint the gateway benchmark calls: a trivial JSON answer, the same as the
// directly served Hono handler it is compared with (bench/lib/hono-direct.ts).
import { App } from "skiff";

export const app = new App("bench-web");

export const ping = app.webEndpoint(
  { method: "GET", concurrency: { maxInputs: 128 }, minContainers: 1, maxContainers: 1 },
  () => ({ ok: true }),
);
