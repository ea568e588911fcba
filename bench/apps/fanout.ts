// The functions the cold fan-out benchmark calls (seed 001's shape): each result says which
// container ran it and when that container's process started and its bundle loaded.
import { App } from "skiff";

export const app = new App("fanout");

/** Bundle loaded (this module evaluated), epoch ms. */
const loadedAt = Date.now();
// One per container (the runtime keeps its container id out of the environment).
const containerTag = crypto.randomUUID();
const info = () => ({
  id: containerTag,
  processStart: Math.round(performance.timeOrigin),
  loadedAt,
});

export const sleep1s = app.function(async () => {
  await new Promise((r) => setTimeout(r, 1000));
  return info();
});

export const sleep10ms = app.function(async () => {
  await new Promise((r) => setTimeout(r, 10));
  return info();
});
