import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import type { SessionInfo } from "@skiff/protocol";
import { describeScope } from "../auth/scope.js";
import type { TokenService } from "../auth/tokens.js";
import { type ApiAuth, CSRF_HEADER } from "../gateway/api-auth.js";
import { HttpError, sendJson } from "../gateway/http-error.js";
import { readBody } from "../gateway/request-body.js";
import { SESSION_COOKIE, type Session, Sessions } from "./sessions.js";

/** The UI bundle, built by packages/server/scripts/build-ui.mjs (esbuild) into dist/ui/. */
const UI_DIR = new URL("../../dist/ui/", import.meta.url);

const ASSETS: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

/** The page allows only its own script and style: no inline script, nothing from elsewhere. */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Skiff</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/app.css"></head>
<body><div id="root"></div><script type="module" src="/assets/app.js"></script></body></html>
`;

/**
 * The dashboard on the server's own port: the page at `/`, its bundled assets, and signing in
 * (`POST /dashboard/session` with a token → an HttpOnly, SameSite=Strict session cookie).
 */
export class DashboardHttp {
  private readonly assets = new Map<string, Buffer>();

  constructor(
    private readonly tokens: TokenService,
    private readonly auth: ApiAuth,
  ) {}

  /** Whether the UI bundle was built (the page says how to build it otherwise). */
  get built(): boolean {
    return existsSync(fileURLToPath(new URL("app.js", UI_DIR)));
  }

  async serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const url = new URL(path, "http://x");
    const p = url.pathname;
    if (p === "/" || p === "/index.html") {
      if (req.method !== "GET" && req.method !== "HEAD") throw notAllowed("GET");
      if (!this.built)
        throw new HttpError(
          503,
          "unavailable",
          "the dashboard is not built: run `npm run build` in the Skiff checkout",
        );
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...PAGE_HEADERS }).end(PAGE);
      return;
    }
    if (p.startsWith("/assets/")) return this.asset(res, p.slice(8));
    if (p === "/dashboard/session") return this.session(req, res);
    throw new HttpError(404, "not_found", `no dashboard page ${p}: the dashboard is at /`);
  }

  private asset(res: ServerResponse, name: string): void {
    const type = ASSETS[name];
    if (!type) throw new HttpError(404, "not_found", `no asset ${name}`);
    let data = this.assets.get(name);
    if (!data) {
      try {
        data = readFileSync(fileURLToPath(new URL(name, UI_DIR)));
      } catch {
        throw new HttpError(404, "not_found", `asset ${name} is not built: run \`npm run build\``);
      }
      this.assets.set(name, data);
    }
    res.writeHead(200, { "content-type": type, "content-length": data.byteLength, "cache-control": "no-cache" });
    res.end(data);
  }

  private async session(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    if (req.method === "GET") {
      const s = await this.auth.session(req);
      if (!s) throw new HttpError(401, "unauthenticated", "not signed in");
      return sendJson(res, 200, info(s), { "cache-control": "no-store" });
    }
    if (req.method === "DELETE") {
      const s = await this.auth.session(req);
      if (s && !Sessions.csrfMatches(s, req.headers[CSRF_HEADER]))
        throw new HttpError(403, "permission_denied", `signing out needs the ${CSRF_HEADER} header`);
      if (s) this.auth.sessions.delete(s.id);
      return sendJson(res, 200, { signedOut: true }, { "set-cookie": cookie("", 0, secure) });
    }
    if (req.method !== "POST") throw notAllowed("GET, POST, DELETE");
    // A sign-in posted from another site is refused (it would sign this browser in as someone else).
    const origin = req.headers.origin;
    if (origin && origin !== "null" && new URL(origin).host !== req.headers.host)
      throw new HttpError(403, "permission_denied", "sign in from the dashboard's own page");
    let token: unknown;
    try {
      token = (JSON.parse(Buffer.from(await readBody(req, 4096)).toString()) as { token?: unknown }).token;
    } catch {
      throw new HttpError(400, "invalid_argument", 'send JSON: { "token": "<token id>:<token secret>" }');
    }
    const raw = typeof token === "string" ? token.trim() : "";
    const i = raw.indexOf(":");
    if (i <= 0)
      throw new HttpError(
        400,
        "invalid_argument",
        "a token looks like <token id>:<token secret> (from `skiff token new`, or the server's first start)",
      );
    const p = await this.tokens.verify(raw.slice(0, i), raw.slice(i + 1));
    if (!p || (p.kind !== "api" && p.kind !== "admin"))
      throw new HttpError(
        401,
        "unauthenticated",
        "wrong token: unknown token id or wrong secret (an API or admin token)",
      );
    if (p.scope)
      throw new HttpError(
        403,
        "permission_denied",
        `the dashboard takes an unscoped token: this one is scoped to ${describeScope(p.scope)}`,
      );
    const s = this.auth.sessions.create(p.tokenId, p.kind);
    sendJson(res, 200, info(s), {
      "set-cookie": cookie(s.id, Math.floor((s.expiresAt - Date.now()) / 1000), secure),
      "cache-control": "no-store",
    });
  }
}

function info(s: Session): SessionInfo {
  return { tokenId: s.tokenId, kind: s.kind, csrfToken: s.csrfToken, expiresAt: s.expiresAt };
}

function cookie(value: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? "; Secure" : ""}`;
}

function notAllowed(allow: string): HttpError {
  return new HttpError(405, "method_not_allowed", `this route takes ${allow}`, { allow });
}
