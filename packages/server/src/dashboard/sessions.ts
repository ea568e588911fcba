import { randomBytes, timingSafeEqual } from "node:crypto";
import { OrderedMap } from "@skiff/protocol";

/** A signed-in browser: the token it signed in with, and the anti-forgery token its writes carry. */
export interface Session {
  id: string;
  tokenId: string;
  kind: string;
  csrfToken: string;
  expiresAt: number;
}

export const SESSION_COOKIE = "skiff_session";
/** How long a sign-in lasts. @defaultValue 12 h */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** Sessions kept at most; signing in past it ends the oldest (a client cannot grow the table). */
export const MAX_SESSIONS = 10_000;

/**
 * Dashboard sessions, in memory: a restart signs everyone out, which costs one sign-in and
 * keeps session secrets off the disk. A session only reads; writes also need its CSRF token in
 * a header, which a cross-site page cannot read or send.
 */
export class Sessions {
  /**
   * Oldest first, which is also soonest to expire (one TTL for all): a sign-in ends the expired
   * ones from the front and, at the bound, the oldest, each in O(1) (ordered-map.ts). One the
   * sweep does not reach (the clock stepped back) is still refused by get.
   */
  private readonly byId: OrderedMap<string, Session>;

  constructor(
    private readonly ttlMs = SESSION_TTL_MS,
    max = MAX_SESSIONS,
  ) {
    this.byId = new OrderedMap(max);
  }

  create(tokenId: string, kind: string, now = Date.now()): Session {
    this.sweep(now);
    const s: Session = {
      id: randomBytes(32).toString("base64url"),
      tokenId,
      kind,
      csrfToken: randomBytes(24).toString("base64url"),
      expiresAt: now + this.ttlMs,
    };
    this.byId.set(s.id, s);
    return s;
  }

  get(id: string | undefined, now = Date.now()): Session | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= now) {
      this.byId.delete(id);
      return undefined;
    }
    return s;
  }

  delete(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }

  /** Whether `given` is the session's anti-forgery token (constant-time). */
  static csrfMatches(s: Session, given: unknown): boolean {
    if (typeof given !== "string" || given.length !== s.csrfToken.length) return false;
    return timingSafeEqual(Buffer.from(given), Buffer.from(s.csrfToken));
  }

  get size(): number {
    return this.byId.size;
  }

  private sweep(now: number): void {
    for (let o = this.byId.oldest(); o && o[1].expiresAt <= now; o = this.byId.oldest()) this.byId.shift();
  }
}

/** The session id from a Cookie header. */
export function sessionIdFrom(cookie: string | undefined): string | undefined {
  if (!cookie) return undefined;
  for (const part of cookie.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) return part.slice(i + 1).trim();
  }
  return undefined;
}
