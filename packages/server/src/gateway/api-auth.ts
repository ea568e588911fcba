import type { IncomingMessage } from "node:http";
import type { TokenService } from "../auth/tokens.js";
import { type Session, Sessions, sessionIdFrom } from "../dashboard/sessions.js";
import type { Store } from "../store/store.js";
import { requireToken, tokenFromHeaders } from "./auth.js";
import { HttpError } from "./http-error.js";

/** The header a signed-in dashboard sends its anti-forgery token in. */
export const CSRF_HEADER = "x-skiff-csrf";

/**
 * Who may use the JSON API: an API or admin token in the headers for everything; a dashboard
 * session cookie for reads, and for writes only with its anti-forgery token in CSRF_HEADER
 * (a cookie alone never authorises a write: another site's form would send it too).
 */
export class ApiAuth {
  constructor(
    private readonly tokens: TokenService,
    private readonly store: Store,
    readonly sessions: Sessions,
  ) {}

  /** The live session of a request's cookie, whose token still exists. */
  async session(req: IncomingMessage): Promise<Session | undefined> {
    const id = sessionIdFrom(req.headers.cookie);
    const s = this.sessions.get(id);
    if (s && !(await this.store.getToken(s.tokenId))) {
      this.sessions.delete(id); // its token was removed: signed out
      return undefined;
    }
    return s;
  }

  /** @throws HttpError 401 (no or bad credentials) or 403 (a session write without its CSRF token). */
  async require(req: IncomingMessage, access: "read" | "write"): Promise<void> {
    if (!tokenFromHeaders(req)) {
      const s = await this.session(req);
      if (s) {
        if (access === "read" || Sessions.csrfMatches(s, req.headers[CSRF_HEADER])) return;
        throw new HttpError(
          403,
          "permission_denied",
          `a write from a dashboard session needs its anti-forgery token in the ${CSRF_HEADER} header (GET /dashboard/session gives it)`,
        );
      }
    }
    await requireToken(req, this.tokens, ["api", "admin"], "the HTTP API");
  }
}
