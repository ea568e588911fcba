import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApiAuth } from "./api-auth.js";
import type { DashboardEvents } from "./events.js";
import { HttpError } from "./http-error.js";
import type { JsonApi } from "./json-api.js";
import type { ObjectsApi } from "./objects-api.js";
import type { ReadApi } from "./read-api.js";

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, m: RegExpExecArray) => void | Promise<void>;

interface ApiRoute {
  method: "GET" | "POST";
  path: RegExp;
  /** read: a token or a dashboard session; write: a token, or a session with its CSRF token. */
  access: "read" | "write";
  run: Handler;
}

const CALL = "(fc-[0-9a-f]{1,64})";
const ID = "([\\w.-]{1,200})";

/**
 * Every `/v1/…` HTTP route in one table (docs/web.md, docs/dashboard.md). `GET /v1/calls/<id>`
 * waits for an outcome as it always has; a call's details are `GET /v1/calls/<id>/details`.
 */
export function apiRoutes(json: JsonApi, read: ReadApi, events: DashboardEvents, objects?: ObjectsApi): ApiRoute[] {
  const r = (method: ApiRoute["method"], path: string, access: ApiRoute["access"], run: Handler): ApiRoute => ({
    method,
    path: new RegExp(`^${path}$`),
    access,
    run,
  });
  return [
    // invoke (the JSON HTTP API of docs/web.md)
    r("POST", "/v1/functions/([^/]+)/([^/]+)/(call|spawn)", "write", (req, res, url, m) => json.run(req, res, url, m)),
    r("GET", `/v1/calls/${CALL}`, "read", (_q, res, url, m) => json.outcome(res, url, m[1]!)),
    r("POST", `/v1/calls/${CALL}/cancel`, "write", (_q, res, url, m) => json.cancel(res, url, m[1]!)),
    // read-only views (and stopping an app)
    r("GET", "/v1/apps", "read", (_q, res, url) => read.apps(res, url)),
    r("GET", `/v1/apps/${ID}`, "read", (_q, res, url, m) => read.app(res, url, m[1]!)),
    r("POST", `/v1/apps/${ID}/stop`, "write", (_q, res, url, m) => read.stopApp(res, url, m[1]!)),
    r("GET", "/v1/functions", "read", (_q, res, url) => read.functions(res, url)),
    r("GET", `/v1/functions/${ID}`, "read", (_q, res, url, m) => read.fn(res, url, m[1]!)),
    r("GET", "/v1/calls", "read", (_q, res, url) => read.calls(res, url)),
    r("GET", `/v1/calls/${CALL}/details`, "read", (_q, res, url, m) => read.callDetails(res, url, m[1]!)),
    r("GET", "/v1/containers", "read", (_q, res, url) => read.containers(res, url)),
    r("GET", "/v1/maps", "read", (_q, res, url) => read.maps(res, url)),
    r("GET", "/v1/logs", "read", (_q, res, url) => read.logs(res, url)),
    r("GET", "/v1/events", "read", (req, res, url) => events.serve(req, res, url)),
    ...(objects
      ? [
          r("GET", "/v1/objects", "read", (_q, res, url) => objects.list(res, url)),
          r("GET", `/v1/objects/dict/${ID}/keys`, "read", (_q, res, url, m) => objects.dictKeys(res, url, m[1]!)),
          r("GET", `/v1/objects/volume/${ID}/files`, "read", (_q, res, url, m) => objects.volumeFiles(res, url, m[1]!)),
        ]
      : []),
  ];
}

/** Runs the route for a request. @throws HttpError 401/403/404/405 */
export async function serveApi(
  routes: ApiRoute[],
  auth: ApiAuth,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const url = new URL(path, "http://x");
  const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET");
  const allowed: string[] = [];
  for (const route of routes) {
    const m = route.path.exec(url.pathname);
    if (!m) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    await auth.require(req, route.access);
    return route.run(req, res, url, m);
  }
  // Unauthenticated callers learn nothing about which routes exist.
  await auth.require(req, "read");
  if (allowed.length > 0)
    throw new HttpError(405, "method_not_allowed", `this route takes ${allowed.join(", ")}`, {
      allow: allowed.join(", "),
    });
  throw new HttpError(
    404,
    "not_found",
    `no API route ${req.method} ${url.pathname}: see docs/web.md (call, spawn, results) and docs/dashboard.md (apps, functions, calls, containers, logs)`,
  );
}
