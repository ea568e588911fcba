import type { AppMode } from "@skiff/protocol";

/** Where a request to the gateway goes. */
export type Target =
  /** A web endpoint, by host (`<app>--<label>.localhost`) or path (`/web/<app>/<label>`). */
  | { kind: "endpoint"; host: string; dev: boolean; candidates: { app: string; label: string }[]; rest: string }
  /** The result URL of a web call answered 303 or 202. */
  | { kind: "result"; callId: string }
  /** The JSON HTTP API (`/v1/…` other than the WebSocket). */
  | { kind: "api"; path: string }
  /** The dashboard: its page at `/`, assets, and signing in. */
  | { kind: "dashboard"; path: string }
  /** Prometheus metrics. */
  | { kind: "metrics" };

const DEV = "-dev";

/** Splits `<app>--<label>` at each "--" (app names may hold "--" themselves). */
function splits(s: string): { app: string; label: string }[] {
  const out: { app: string; label: string }[] = [];
  for (let i = s.indexOf("--"); i > 0; i = s.indexOf("--", i + 1)) {
    const label = s.slice(i + 2);
    if (label) out.push({ app: s.slice(0, i), label });
  }
  return out;
}

function endpoint(name: string, rest: string): Target | undefined {
  const dev = name.endsWith(DEV);
  const candidates = splits(dev ? name.slice(0, -DEV.length) : name);
  if (candidates.length === 0) return undefined;
  return { kind: "endpoint", host: name, dev, candidates, rest: rest.startsWith("/") ? rest : `/${rest}` };
}

/** The Host header's first label (up to the first "." or ":"), as sent. */
function firstLabel(host: string): string {
  // A scan, not split(/[.:]/): this runs for every request on the public listener.
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 46 || c === 58) return host.slice(0, i);
  }
  return host;
}

/** A Host of the form `<app>--<label>.…`: everything on it belongs to a web endpoint. */
export function isWebHost(host: string | undefined): boolean {
  return host !== undefined && firstLabel(host).includes("--");
}

/**
 * Routes by the Host header first (a first label holding "--" is always a web endpoint, so an
 * app's own `/v1/…` routes reach it), then by path. Undefined: not the gateway's.
 */
export function route(host: string | undefined, url: string): Target | undefined {
  if (host) {
    const first = firstLabel(host);
    if (first.includes("--")) return endpoint(first.toLowerCase(), url);
  }
  if (url.startsWith("/web/")) {
    const parts = url.slice(5).split("/");
    const [app, label] = parts;
    if (app === "_result" && label) return { kind: "result", callId: label.split("?")[0]! };
    if (!app || !label) return undefined;
    const q = label.indexOf("?");
    const rest = `/${parts.slice(2).join("/")}${q >= 0 ? label.slice(q) : ""}`;
    const lab = q >= 0 ? label.slice(0, q) : label;
    const dev = lab.endsWith(DEV);
    return {
      kind: "endpoint",
      host: `${app}/${lab}`,
      dev,
      candidates: [{ app: app.toLowerCase(), label: dev ? lab.slice(0, -DEV.length) : lab }],
      rest,
    };
  }
  if (url.startsWith("/v1/") && !url.startsWith("/v1/ws")) return { kind: "api", path: url };
  const path = url.split("?")[0]!;
  if (path === "/metrics") return { kind: "metrics" };
  if (path === "/" || path === "/index.html" || url.startsWith("/assets/") || url.startsWith("/dashboard/"))
    return { kind: "dashboard", path: url };
  return undefined;
}

/** The URL of a web endpoint: `http://<app>--<label>[-dev].localhost:<port>`. */
export function webUrl(base: URL, appName: string, label: string, mode: AppMode): string {
  return `${base.protocol}//${appName.toLowerCase()}--${label}${mode === "ephemeral" ? DEV : ""}.localhost:${base.port}`;
}

/** The path form of the same endpoint: `http://<host>:<port>/web/<app>/<label>[-dev]`. */
export function webPathUrl(base: URL, appName: string, label: string, mode: AppMode): string {
  return `${base.origin}/web/${appName.toLowerCase()}/${label}${mode === "ephemeral" ? DEV : ""}`;
}
