import type { IncomingMessage } from "node:http";
import type { TokenKind } from "@skiff/protocol";
import { describeScope } from "../auth/scope.js";
import type { TokenService } from "../auth/tokens.js";
import { HttpError } from "./http-error.js";

/**
 * A token from request headers: the pair `Skiff-Token-Id: <id>` and `Skiff-Token-Secret:
 * <secret>` (as Modal's Modal-Key / Modal-Secret), or `Authorization: Bearer <id>:<secret>`.
 */
export function tokenFromHeaders(req: IncomingMessage): { tokenId: string; tokenSecret: string } | undefined {
  const key = req.headers["skiff-token-id"];
  const secret = req.headers["skiff-token-secret"];
  if (typeof key === "string" && typeof secret === "string") return { tokenId: key, tokenSecret: secret };
  const auth = req.headers.authorization;
  if (typeof auth === "string" && /^bearer /i.test(auth)) {
    const v = auth.slice(7).trim();
    const i = v.indexOf(":");
    if (i > 0) return { tokenId: v.slice(0, i), tokenSecret: v.slice(i + 1) };
  }
  return undefined;
}

/** Each kind of token as a 401 names it ("not an API token"). */
const TOKEN_PHRASE: Record<TokenKind, string> = {
  admin: "an admin token",
  api: "an API token",
  web: "an endpoint token",
  container: "a container's token",
  worker: "a worker token",
};

/**
 * Checks the request's token is one of `kinds`.
 * @throws HttpError 401 when it is missing, unknown or of another kind.
 */
export async function requireToken(
  req: IncomingMessage,
  tokens: TokenService,
  kinds: TokenKind[],
  what: string,
): Promise<void> {
  const t = tokenFromHeaders(req);
  const challenge = { "www-authenticate": 'Bearer realm="skiff"' };
  if (!t)
    throw new HttpError(
      401,
      "unauthenticated",
      `${what} needs a token: send "Authorization: Bearer <token id>:<token secret>" (or Skiff-Token-Id and Skiff-Token-Secret headers)`,
      challenge,
    );
  const p = await tokens.verify(t.tokenId, t.tokenSecret);
  if (!p) throw new HttpError(401, "unauthenticated", "invalid token: unknown token id or wrong secret", challenge);
  // Scopes are enforced on the WebSocket API (api/scope-rules.ts); the HTTP API and the
  // dashboard have no per-request scope checks, so a scoped token is not taken there.
  if (p.scope)
    throw new HttpError(
      403,
      "permission_denied",
      `${what} takes an unscoped token: token ${p.tokenId} is scoped to ${describeScope(p.scope)} (\`skiff token new\` without --environment/--apps makes one)`,
    );
  if (!kinds.includes(p.kind))
    throw new HttpError(
      401,
      "unauthenticated",
      `${what} takes ${kinds.includes("web") ? "an endpoint token (skiff token new --web)" : "an API token (skiff token new)"}, not ${TOKEN_PHRASE[p.kind]}`,
      challenge,
    );
}
