import type { IncomingMessage, ServerResponse } from "node:http";
import type { DashboardEvent, LogEntry } from "@skiff/protocol";
import type { Engine } from "../engine/engine.js";
import type { LogHub } from "../engine/log-hub.js";
import { HttpError } from "./http-error.js";
import { logLine } from "./read-api.js";

/** Dashboards following at once; more are answered 503 (each costs a socket and a filter). */
const MAX_CLIENTS = 100;
/** How often functions, containers and maps are pushed. */
const PERIOD_MS = 1000;
/** A client this far behind gets nothing more until it catches up (lines are dropped, not queued). */
const BEHIND_BYTES = 1024 * 1024;

interface Client {
  res: ServerResponse;
  app: string | undefined;
  fn: string | undefined;
  input: string | undefined;
  container: string | undefined;
  /** Lines not sent while it was behind; it is told how many once it catches up. */
  dropped: number;
}

/**
 * Live updates for dashboards, as server-sent events on `GET /v1/events`: every second the
 * functions, containers and running maps (one snapshot serialised once for all clients), and
 * each log line as it arrives, filtered per client by app, function and input. Nothing runs
 * while no one follows.
 */
export class DashboardEvents {
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | undefined;
  private unfollow: (() => void) | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly logs: LogHub,
    private readonly urlOf: (functionId: string) => string | undefined,
  ) {}

  serve(req: IncomingMessage, res: ServerResponse, url: URL): void {
    for (const k of url.searchParams.keys())
      if (!["app", "function", "input", "container"].includes(k))
        throw new HttpError(
          400,
          "invalid_argument",
          `unknown parameter "${k}" (this route takes: app, function, input, container)`,
        );
    if (this.clients.size >= MAX_CLIENTS)
      throw new HttpError(503, "unavailable", `${MAX_CLIENTS} dashboards already follow this server's events`);
    const c: Client = {
      res,
      app: url.searchParams.get("app") || undefined,
      fn: url.searchParams.get("function") || undefined,
      input: url.searchParams.get("input") || undefined,
      container: url.searchParams.get("container") || undefined,
      dropped: 0,
    };
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    res.write(": skiff events\n\n");
    this.clients.add(c);
    for (const chunk of this.snapshotChunks()) res.write(chunk);
    const done = () => {
      this.clients.delete(c);
      if (this.clients.size === 0) this.idle();
    };
    req.once("close", done);
    res.once("close", done);
    if (!this.timer) {
      this.timer = setInterval(() => this.push(), PERIOD_MS);
      this.timer.unref();
      this.unfollow = this.logs.followAll((e) => this.line(e));
    }
  }

  private idle(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unfollow?.();
    this.unfollow = undefined;
  }

  private snapshotChunks(): string[] {
    const snap = this.engine.snapshot();
    const functions = snap.functions.map((f) => {
      const webUrl = this.urlOf(f.id);
      return webUrl ? { ...f, webUrl } : f;
    });
    return [
      chunk({ type: "functions", functions }),
      chunk({ type: "containers", containers: snap.containers }),
      chunk({ type: "maps", maps: snap.maps }),
    ];
  }

  private push(): void {
    const chunks = this.snapshotChunks();
    for (const c of this.clients) {
      if (c.res.writableLength > BEHIND_BYTES) continue;
      for (const x of chunks) c.res.write(x);
    }
  }

  private line(e: LogEntry): void {
    let text: string | undefined;
    for (const c of this.clients) {
      if (c.app !== undefined && c.app !== e.appId) continue;
      if (c.fn !== undefined && c.fn !== e.functionName) continue;
      if (c.input !== undefined && c.input !== e.inputId) continue;
      if (c.container !== undefined && c.container !== e.containerId) continue;
      if (c.res.writableLength > BEHIND_BYTES) {
        c.dropped++;
        continue;
      }
      if (c.dropped > 0) {
        const text = `(${c.dropped} log lines not shown: this dashboard fell behind)\n`;
        c.res.write(
          chunk({ type: "log", line: logLine({ seq: 0, ts: e.ts, appId: e.appId, stream: "system", text }) }),
        );
        c.dropped = 0;
      }
      text ??= chunk({ type: "log", line: logLine({ ...e, seq: 0 }) });
      c.res.write(text);
    }
  }

  close(): void {
    this.idle();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}

function chunk(e: DashboardEvent): string {
  return `data: ${JSON.stringify(e)}\n\n`;
}
