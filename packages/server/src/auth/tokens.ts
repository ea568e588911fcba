import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { TokenKind } from "@skiff/protocol";
import type { Store } from "../store/store.js";

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function randomToken(prefix: string, bytes: number): string {
  return `${prefix}-${randomBytes(bytes).toString("base64url")}`;
}

export interface Principal {
  kind: TokenKind;
  tokenId: string;
  /** Set for container tokens. */
  containerId?: string;
  /** Epoch ms the token stops working (connections using it are closed then). */
  expiresAt?: number;
}

/** A token's public description (never its secret or hash). */
export interface TokenInfo {
  tokenId: string;
  kind: TokenKind;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

/**
 * Tokens are an id plus a secret; only a hash of the secret is stored. Container tokens
 * live in memory for the life of their container.
 */
export class TokenService {
  private readonly containerTokens = new Map<string, { hash: string; containerId: string }>();
  /** Told of each revocation, so that connections using the token are closed at once. */
  private readonly revokeListeners = new Set<(tokenId: string) => void>();

  constructor(private readonly store: Store) {}

  create(kind: "admin" | "api" | "web" | "worker", expiresAt?: number): { tokenId: string; tokenSecret: string } {
    const tokenId = randomToken("tk", 9);
    const tokenSecret = randomToken("ts", 24);
    this.store.insertToken({
      id: tokenId,
      secretHash: hashSecret(tokenSecret),
      kind,
      createdAt: Date.now(),
      expiresAt: expiresAt ?? null,
    });
    return { tokenId, tokenSecret };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.store.listTokens()).map((r) => ({
      tokenId: r.id,
      kind: r.kind,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt ?? null,
      revokedAt: r.revokedAt ?? null,
    }));
  }

  /** Revokes a stored token: refused from now on, and its open connections are closed. */
  async revoke(tokenId: string): Promise<boolean> {
    const row = await this.store.getToken(tokenId);
    if (!row) return false;
    this.store.revokeToken(tokenId, Date.now());
    await this.store.flush();
    for (const l of this.revokeListeners) l(tokenId);
    return true;
  }

  onRevoke(listener: (tokenId: string) => void): void {
    this.revokeListeners.add(listener);
  }

  createContainerToken(containerId: string): { tokenId: string; tokenSecret: string } {
    const tokenId = `ct-${containerId}`;
    const tokenSecret = randomToken("cs", 24);
    this.containerTokens.set(tokenId, { hash: hashSecret(tokenSecret), containerId });
    return { tokenId, tokenSecret };
  }

  revokeContainerToken(containerId: string): void {
    this.containerTokens.delete(`ct-${containerId}`);
  }

  /** The principal for a token, or undefined if it is unknown, wrong, revoked or expired. */
  async verify(tokenId: string, tokenSecret: string): Promise<Principal | undefined> {
    return (await this.check(tokenId, tokenSecret)).principal;
  }

  /** Like verify, with why a token with the right secret is refused (revoked, expired). */
  async check(tokenId: string, tokenSecret: string): Promise<{ principal?: Principal; refused?: string }> {
    const p = await this.verifySecret(tokenId, tokenSecret);
    if (!p || !("row" in p)) return { ...(p ? { principal: p } : {}) };
    const { row } = p;
    if (row.revokedAt) return { refused: `token ${tokenId} was revoked` };
    if (row.expiresAt && row.expiresAt <= Date.now())
      return { refused: `token ${tokenId} expired at ${new Date(row.expiresAt).toISOString()}` };
    return { principal: { kind: row.kind, tokenId, ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}) } };
  }

  private async verifySecret(
    tokenId: string,
    tokenSecret: string,
  ): Promise<Principal | { row: import("../store/store.js").TokenRow } | undefined> {
    if (typeof tokenId !== "string" || typeof tokenSecret !== "string") return undefined;
    const given = Buffer.from(hashSecret(tokenSecret), "hex");
    const ct = this.containerTokens.get(tokenId);
    if (ct) {
      return timingSafeEqual(given, Buffer.from(ct.hash, "hex"))
        ? { kind: "container", tokenId, containerId: ct.containerId }
        : undefined;
    }
    const row = await this.store.getToken(tokenId);
    if (!row) return undefined;
    return timingSafeEqual(given, Buffer.from(row.secretHash, "hex")) ? { row } : undefined;
  }
}
