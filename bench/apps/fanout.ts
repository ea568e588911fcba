// The functions the cold fan-out benchmark calls (seed 001's shape): each result says which
// container ran it and when that container's process started and its bundle loaded.
import { App } from "skiff";

export const app = new App("fanout");

/** Bundle loaded (this module evaluated), epoch ms. */
const loadedAt = Date.now();
/** CPU the container's process had used by then (process start, runtime, connection, this bundle), ms. */
const { user, system } = process.cpuUsage();
const cpuMsAtLoad = (user + system) / 1000;
const cpuMsNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
// One per container (the runtime keeps its container id out of the environment). Neither
// this nor the start time uses the `crypto` or `performance` globals: their first use loads
// modules (webcrypto, perf_hooks) the seed's function would not, and the bench counts the
// runtime's CPU to here.
const containerTag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
const info = (startedAt: number) => ({
  id: containerTag,
  /** When this call started running here, epoch ms. */
  startedAt,
  processStart: Math.round(Date.now() - process.uptime() * 1000),
  loadedAt,
  cpuMsAtLoad,
  /** CPU the process had used when this call ended, ms. */
  cpuMsAtEnd: cpuMsNow(),
});

export const sleep1s = app.function(async () => {
  const t = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  return info(t);
});

export const sleep10ms = app.function(async () => {
  const t = Date.now();
  await new Promise((r) => setTimeout(r, 10));
  return info(t);
});
