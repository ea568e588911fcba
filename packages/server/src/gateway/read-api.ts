import type { ServerResponse } from "node:http";
import {
  type AppDetails,
  type AppSummary,
  type AttemptInfo,
  CALL_STATUSES,
  type CallDetails,
  type CallPage,
  type CallStatus,
  type CallSummary,
  type GraphNode,
  type LogLine,
} from "@skiff/protocol";
import type { AppService } from "../apps/app-service.js";
import type { Engine } from "../engine/engine.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import type { AppRow, CallListRow, LogRow, Store } from "../store/store.js";
import { HttpError, sendJson } from "./http-error.js";
import { cut, PREVIEW_CHARS, previewError, previewPayload } from "./previews.js";

export interface ReadApiDeps {
  engine: Engine;
  apps: AppService;
  store: Store;
  blobs: BlobStore;
  /** Both URLs of a web endpoint function (undefined for others). */
  urlOf(functionId: string): string | undefined;
}

/** Largest page of calls or log lines. */
export const MAX_PAGE = 200;
/** Log text shown per line; the rest is cut (a 60 MB line never reaches a page). */
export const LOG_LINE_CHARS = 4096;
/** Nodes of a call graph shown on a call's page. */
const GRAPH_NODES = 500;

/** Query parameters: only those named are accepted, so a typo is an error and not ignored. */
function params(url: URL, allowed: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (k === "page" || k === "offset")
      throw new HttpError(
        400,
        "invalid_argument",
        `"${k}" is not supported: this list is cursor-paged; pass cursor=<nextCursor> from the previous page`,
      );
    if (!allowed.includes(k))
      throw new HttpError(
        400,
        "invalid_argument",
        `unknown parameter "${k}" (this route takes: ${allowed.join(", ")})`,
      );
    out.set(k, v);
  }
  return out;
}

function intParam(p: Map<string, string>, name: string, min: number, max: number, dflt?: number): number | undefined {
  const v = p.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new HttpError(
      400,
      "invalid_argument",
      `${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(v.slice(0, 40))}`,
    );
  return n;
}

/** A time: epoch milliseconds or an ISO 8601 date. */
function timeParam(p: Map<string, string>, name: string): number | undefined {
  const v = p.get(name);
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new HttpError(
      400,
      "invalid_argument",
      `${name} must be epoch milliseconds or an ISO 8601 date, not ${JSON.stringify(v.slice(0, 40))}`,
    );
  return n;
}

function idParam(p: Map<string, string>, name: string): string | undefined {
  const v = p.get(name);
  if (v === undefined || v === "") return undefined;
  if (v.length > 200 || !/^[\w.:-]+$/.test(v))
    throw new HttpError(400, "invalid_argument", `${name} must be an id or a name (letters, digits, . _ - :)`);
  return v;
}

export function encodeCursor(row: { createdAt: number; id: string }): string {
  return Buffer.from(JSON.stringify([row.createdAt, row.id])).toString("base64url");
}

function decodeCursor(s: string): { createdAt: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(s, "base64url").toString()) as unknown;
    if (Array.isArray(v) && Number.isSafeInteger(v[0]) && typeof v[1] === "string" && v[1].length < 100)
      return { createdAt: v[0] as number, id: v[1] };
  } catch {
    // falls through to the error
  }
  throw new HttpError(
    400,
    "invalid_argument",
    "cursor is not one this server gave out: pass nextCursor from a previous page",
  );
}

function appSummary(a: AppRow, functions: number): AppSummary {
  return {
    id: a.id,
    name: a.name,
    environment: a.environment,
    mode: a.mode,
    state: a.state,
    version: a.version,
    createdAt: a.createdAt,
    functions,
  };
}

function callSummary(r: CallListRow): CallSummary {
  const fn = r.functionName ?? r.functionId;
  return {
    id: r.id,
    functionId: r.functionId,
    functionName: r.method ? `${fn}.${r.method}` : fn,
    appId: r.appId ?? "",
    appName: r.appName ?? "",
    kind: r.kind,
    status: (CALL_STATUSES as readonly string[]).includes(r.status) ? (r.status as CallStatus) : "pending",
    createdAt: r.createdAt,
    completedAt: r.completedAt,
  };
}

export function logLine(r: LogRow): LogLine {
  const c = cut(r.text, LOG_LINE_CHARS);
  return {
    seq: r.seq,
    ts: r.ts,
    appId: r.appId,
    functionName: r.functionName ?? null,
    inputId: r.inputId ?? null,
    containerId: r.containerId ?? null,
    stream: r.stream,
    text: c.text,
    truncated: c.truncated,
  };
}

/**
 * The read-only JSON API the dashboard uses and scripts can too (docs/dashboard.md): apps,
 * functions with live stats, calls (filtered, cursor-paged), a call with its attempts and
 * graph, containers, running maps and log lines.
 */
export class ReadApi {
  constructor(private readonly d: ReadApiDeps) {}

  async apps(res: ServerResponse, url: URL): Promise<void> {
    const p = params(url, ["environment"]);
    const env = idParam(p, "environment") ?? "main";
    const apps = await this.d.apps.list(env);
    sendJson(res, 200, {
      apps: apps.map((a) =>
        appSummary(
          {
            id: a.appId,
            name: a.name,
            environment: a.environment,
            mode: a.mode,
            state: a.state,
            version: a.version,
            createdAt: a.createdAt,
            ownerSession: null,
          },
          a.functions.length,
        ),
      ),
    });
  }

  async app(res: ServerResponse, url: URL, appId: string): Promise<void> {
    params(url, []);
    const a = await this.d.store.getApp(appId);
    if (!a) throw new HttpError(404, "not_found", `no app ${appId}`);
    const fns = await this.d.store.appFunctions(a.id);
    const details: AppDetails = {
      ...appSummary(a, fns.length),
      deployments: (await this.d.store.listDeployments(a.id))
        .slice(0, 100)
        .map((x) => ({ version: x.version, createdAt: x.createdAt, functions: x.functions })),
      functionIds: fns.map((f) => f.id),
    };
    sendJson(res, 200, details);
  }

  async stopApp(res: ServerResponse, url: URL, appId: string): Promise<void> {
    params(url, []);
    const a = await this.d.store.getApp(appId);
    if (!a) throw new HttpError(404, "not_found", `no app ${appId}`);
    await this.d.apps.stop({ appId, environment: a.environment });
    await this.d.store.flush();
    sendJson(res, 200, { app_id: appId, stopped: true });
  }

  functions(res: ServerResponse, url: URL): void {
    const p = params(url, ["app"]);
    const app = idParam(p, "app");
    const fns = this.d.engine
      .snapshot()
      .functions.filter((f) => app === undefined || f.appId === app || f.appName === app)
      .map((f) => {
        const webUrl = this.d.urlOf(f.id);
        return webUrl ? { ...f, webUrl } : f;
      });
    sendJson(res, 200, { functions: fns });
  }

  fn(res: ServerResponse, url: URL, functionId: string): void {
    params(url, []);
    const f = this.d.engine.functionSnapshot(functionId);
    if (!f) throw new HttpError(404, "not_found", `no running function ${functionId}`);
    sendJson(res, 200, f);
  }

  async calls(res: ServerResponse, url: URL): Promise<void> {
    const p = params(url, ["app", "function", "status", "since", "until", "cursor", "limit"]);
    const status = p.get("status");
    if (status !== undefined && !(CALL_STATUSES as readonly string[]).includes(status))
      throw new HttpError(400, "invalid_argument", `status must be one of ${CALL_STATUSES.join(", ")}`);
    let appId = idParam(p, "app");
    if (appId !== undefined && !appId.startsWith("ap-")) {
      // A name: the newest app of that name in "main".
      appId = (await this.d.store.findLatestApp("main", appId))?.id ?? appId;
    }
    const limit = intParam(p, "limit", 1, MAX_PAGE, 50)!;
    const cursor = p.get("cursor");
    const rows = await this.d.store.listCalls({
      ...(appId !== undefined ? { appId } : {}),
      ...(p.has("function") ? { functionId: idParam(p, "function")! } : {}),
      ...(status !== undefined ? { status } : {}),
      ...(p.has("since") ? { since: timeParam(p, "since")! } : {}),
      ...(p.has("until") ? { until: timeParam(p, "until")! } : {}),
      ...(cursor ? { before: decodeCursor(cursor) } : {}),
      limit: limit + 1,
    });
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const out: CallPage = {
      calls: page.map(callSummary),
      nextCursor: more ? encodeCursor(page[page.length - 1]!) : null,
    };
    sendJson(res, 200, out);
  }

  async callDetails(res: ServerResponse, url: URL, callId: string): Promise<void> {
    params(url, []);
    const row = await this.d.store.callSummary(callId);
    if (!row) {
      const why = this.d.engine.isLive(callId)
        ? ": it is a .remote or .map call, kept in memory only while it runs (running maps: GET /v1/maps)"
        : "";
      throw new HttpError(404, "not_found", `no recorded function call ${callId}${why}`);
    }
    const stored = await this.d.store.getCall(callId);
    const args = await this.d.store.callArgs(callId);
    const o = stored?.outcome;
    const r = o?.kind === "result" ? o.result : undefined;
    const attempts: AttemptInfo[] = (await this.d.store.callAttempts(callId, 100)).map((a) => ({
      inputId: a.inputId,
      attempt: a.attempt,
      containerId: a.containerId,
      queuedAt: a.queuedAt,
      startedAt: a.startedAt,
      endedAt: a.endedAt,
      coldStartMs: a.coldStartMs,
      status: a.status as AttemptInfo["status"],
    }));
    let graph: GraphNode[] = [];
    try {
      graph = await this.d.engine.callGraph(callId, GRAPH_NODES);
    } catch {
      graph = [];
    }
    const details: CallDetails = {
      ...callSummary(row),
      args: args ? await previewPayload(args, this.d.blobs) : null,
      result: r?.status === "success" ? await previewPayload(r.data, this.d.blobs) : null,
      error:
        r && (r.status === "failure" || r.status === "init_failure") ? await previewError(r.error, this.d.blobs) : null,
      message: r && (r.status === "timeout" || r.status === "terminated") ? cut(r.message, PREVIEW_CHARS).text : null,
      attempts,
      graph,
    };
    sendJson(res, 200, details);
  }

  containers(res: ServerResponse, url: URL): void {
    const p = params(url, ["app", "function"]);
    const app = idParam(p, "app");
    const fn = idParam(p, "function");
    const containers = this.d.engine
      .snapshot()
      .containers.filter((c) => (app === undefined || c.appId === app) && (fn === undefined || c.functionId === fn));
    sendJson(res, 200, { containers });
  }

  maps(res: ServerResponse, url: URL): void {
    params(url, []);
    sendJson(res, 200, { maps: this.d.engine.snapshot().maps });
  }

  async logs(res: ServerResponse, url: URL): Promise<void> {
    const p = params(url, ["app", "function", "input", "container", "after", "before", "limit"]);
    const rows = await this.d.store.queryLogs({
      ...(p.has("app") ? { appId: idParam(p, "app")! } : {}),
      ...(p.has("function") ? { functionName: idParam(p, "function")! } : {}),
      ...(p.has("input") ? { inputId: idParam(p, "input")! } : {}),
      ...(p.has("container") ? { containerId: idParam(p, "container")! } : {}),
      ...(p.has("after") ? { afterSeq: intParam(p, "after", 0, Number.MAX_SAFE_INTEGER)! } : {}),
      ...(p.has("before") ? { beforeSeq: intParam(p, "before", 0, Number.MAX_SAFE_INTEGER)! } : {}),
      limit: intParam(p, "limit", 1, MAX_PAGE * 5, 200)!,
    });
    sendJson(res, 200, { lines: rows.map(logLine) });
  }
}
