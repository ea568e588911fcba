import type { ContainerSnapshot, FunctionSnapshot, MapProgress } from "@skiff/protocol";
import type { LiveCall, LiveContainer, LiveFunction } from "../model.js";

/** What the engine shows of itself: plain values, safe to serialise and to keep. */
export interface EngineSnapshot {
  functions: FunctionSnapshot[];
  containers: ContainerSnapshot[];
  maps: MapProgress[];
}

/** At most this many running maps are listed (the newest); a snapshot stays small. */
const MAX_MAPS = 100;

export function snapshotFunction(fn: LiveFunction, now: number): FunctionSnapshot {
  let running = 0;
  let containers = 0;
  for (const c of fn.containers.values()) {
    running += c.running.size;
    if (c.status === "starting" || c.status === "ready") containers++;
  }
  const s = fn.stats;
  return {
    id: fn.id,
    appId: fn.appId,
    appName: fn.appName,
    environment: fn.environment,
    name: fn.name,
    version: fn.version,
    ...(fn.baseId !== undefined ? { baseId: fn.baseId } : {}),
    isGenerator: fn.spec.isGenerator,
    // Queue entries cancelled while waiting are skipped at dispatch; the queue's length is the
    // bound, and counting exactly would walk every input on each snapshot.
    backlog: fn.queue.length + fn.parked,
    running,
    containers,
    callsPerMinute: s.perMinute(now),
    p50Ms: s.percentile(0.5),
    p99Ms: s.percentile(0.99),
    errorRate: s.errorRate(now),
    totals: {
      accepted: s.accepted,
      succeeded: s.succeeded,
      failed: s.failed,
      retried: s.retried,
      coldStarts: s.coldStarts,
    },
    series: s.series(now),
  };
}

export function snapshotContainers(all: Iterable<LiveContainer>, now: number): ContainerSnapshot[] {
  const out: ContainerSnapshot[] = [];
  for (const c of all) {
    if (c.status === "dead") continue;
    let usage: { cpuMs: number; memoryBytes: number } | undefined;
    try {
      usage = c.handle?.usage?.();
    } catch {
      usage = undefined; // the process just left
    }
    out.push({
      id: c.id,
      functionId: c.fn.id,
      functionName: c.fn.name,
      appId: c.fn.appId,
      appName: c.fn.appName,
      state: c.status,
      image: "host",
      host: c.handle?.host ?? "local",
      startedAt: c.startedAt,
      readyAt: c.readyAt || null,
      uptimeMs: now - c.startedAt,
      running: c.running.size,
      inputsServed: c.inputsServed,
      cpuMs: usage ? usage.cpuMs : null,
      memoryBytes: usage ? usage.memoryBytes : null,
    });
  }
  return out;
}

export function snapshotMaps(calls: Iterable<LiveCall>): MapProgress[] {
  const out: MapProgress[] = [];
  for (const call of calls) {
    const m = call.map;
    if (!m) continue;
    out.push({
      callId: call.id,
      functionId: call.fn.id,
      functionName: call.fn.name,
      appName: call.fn.appName,
      done: m.done,
      failed: m.failed,
      total: m.total ?? null,
      inFlight: m.live.size,
      startedAt: call.createdAt,
    });
  }
  return out.sort((a, b) => b.startedAt - a.startedAt).slice(0, MAX_MAPS);
}
