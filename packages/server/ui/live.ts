import type { ContainerSnapshot, DashboardEvent, FunctionSnapshot, LogLine, MapProgress } from "@skiff/protocol";
import { useEffect, useState } from "preact/hooks";

/** The latest functions, containers and maps the server pushed (one EventSource for the page). */
export interface LiveState {
  functions: FunctionSnapshot[];
  containers: ContainerSnapshot[];
  maps: MapProgress[];
  connected: boolean;
}

let state: LiveState = { functions: [], containers: [], maps: [], connected: false };
const listeners = new Set<() => void>();
let source: EventSource | undefined;

function set(patch: Partial<LiveState>): void {
  state = { ...state, ...patch };
  for (const l of listeners) l();
}

/** Opens the page's event stream (after sign-in). */
export function connect(): void {
  if (source) return;
  source = new EventSource("/v1/events");
  source.onopen = () => set({ connected: true });
  source.onerror = () => set({ connected: false });
  source.onmessage = (m) => {
    const e = JSON.parse(m.data as string) as DashboardEvent;
    if (e.type === "functions") set({ functions: e.functions });
    else if (e.type === "containers") set({ containers: e.containers });
    else if (e.type === "maps") set({ maps: e.maps });
  };
}

export function disconnect(): void {
  source?.close();
  source = undefined;
  set({ connected: false });
}

export function useLive(): LiveState {
  const [, force] = useState(0);
  useEffect(() => {
    const l = () => force((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return state;
}

/** Log lines as they arrive, filtered on the server (while `enabled`). */
export function useLogStream(filter: Record<string, string>, enabled: boolean, onLine: (l: LogLine) => void): void {
  const key = new URLSearchParams(filter).toString();
  useEffect(() => {
    if (!enabled) return;
    const es = new EventSource(`/v1/events${key ? `?${key}` : ""}`);
    es.onmessage = (m) => {
      const e = JSON.parse(m.data as string) as DashboardEvent;
      if (e.type === "log") onLine(e.line);
    };
    return () => es.close();
  }, [key, enabled]);
}
