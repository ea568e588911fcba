// The functions the cold fan-out benchmark calls (seed 001's shape): each result says which
// container ran it and when that container's process started and its bundle loaded.
import { App } from "skiff";

export const app = new App("fanout");

/** Bundle loaded (this module evaluated), epoch ms. */
const loadedAt = Date.now();
// The sandbox gives each container its own PID namespace: the container id tells them apart.
const info = () => ({
  id: process.env.SKIFF_CONTAINER_ID ?? String(process.pid),
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
