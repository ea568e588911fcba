// bench/web-node.ts's endpoints: the same Express and `ws` apps as served directly.
import { App } from "skiff";
import { expressEcho, wsEcho } from "./web-node-app.js";

export const app = new App("bench-node");

const opts = { concurrency: { maxInputs: 128 }, minContainers: 1, maxContainers: 1, timeoutMs: 600_000 };
export const echo = app.nodeHttpApp({ ...opts, label: "echo" }, () => expressEcho());
export const ws = app.nodeHttpApp({ ...opts, label: "ws" }, () => wsEcho());
