import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { OrderedMap, type TokenKind } from "@skiff/protocol";
import type { Store, TokenRow } from "../store/store.js";
import { BlobGrants, MAX_BLOB_GRANTS } from "./blob-grants.js";
import type { TokenScope } from "./scope.js";
import { StoredGrants } from "./stored-grants.js";

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Scoped tokens whose blob grants are kept in memory (about 0.5 MiB each when full); the store keeps every token's. */
export const MAX_SCOPED_GRANT_SETS = 64;

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
  /** Set for a scoped API token: the environment (and apps) it is held to (auth/scope.ts). */
  scope?: TokenScope;
  /** Set for container tokens and scoped API tokens: the only blobs it may read and pass on. */
  blobGrants?: BlobGrants;
}

/** A token's public description (never its secret or hash). */
export interface TokenInfo {
  tokenId: string;
  kind: TokenKind;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  environment: string | null;
  apps: string[] | null;
}

/**
 * Tokens are an id plus a secret; only a hash of the secret is stored. Container tokens
 * live in memory for the life of their container.
 */
export class TokenService {
  private readonly containerTokens = new Map<string, { hash: string; containerId: string; grants: BlobGrants }>();
  /**
   * The blobs each scoped API token was sent or uploaded, by token id: kept per token, not per
   * connection, so that a client's blob.get retried on a new connection is still served. In
   * memory for the MAX_SCOPED_GRANT_SETS tokens that connected last (a set holds at most
   * MAX_BLOB_GRANTS ids); in the store for every token (auth/stored-grants.ts), so that a
   * token evicted here, or a server restarted, still finds them.
   */
  private readonly scopedGrants = new OrderedMap<string, BlobGrants>(MAX_SCOPED_GRANT_SETS);
  /** Told of each revocation, so that connections using the token are closed at once. */
  private readonly revokeListeners = new Set<(tokenId: string) => void>();

  constructor(private readonly store: Store) {}

  create(
    kind: "admin" | "api" | "web" | "worker",
    expiresAt?: number,
    scope?: { environment: string; apps?: string[] },
  ): { tokenId: string; tokenSecret: string } {
    const tokenId = randomToken("tk", 9);
    const tokenSecret = randomToken("ts", 24);
    this.store.insertToken({
      id: tokenId,
      secretHash: hashSecret(tokenSecret),
      kind,
      createdAt: Date.now(),
      expiresAt: expiresAt ?? null,
      environment: scope?.environment ?? null,
      apps: scope?.apps ? JSON.stringify(scope.apps) : null,
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
      environment: r.environment ?? null,
      apps: appsOf(r),
    }));
  }

  /** Revokes a stored token: refused from now on, and its open connections are closed. */
  async revoke(tokenId: string): Promise<boolean> {
    const row = await this.store.getToken(tokenId);
    if (!row) return false;
    this.store.revokeToken(tokenId, Date.now());
    this.store.deleteBlobGrants(tokenId);
    await this.store.flush();
    this.scopedGrants.delete(tokenId);
    for (const l of this.revokeListeners) l(tokenId);
    return true;
  }

  onRevoke(listener: (tokenId: string) => void): void {
    this.revokeListeners.add(listener);
  }

  createContainerToken(containerId: string): { tokenId: string; tokenSecret: string } {
    const tokenId = `ct-${containerId}`;
    const tokenSecret = randomToken("cs", 24);
    this.containerTokens.set(tokenId, { hash: hashSecret(tokenSecret), containerId, grants: new BlobGrants() });
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
    const apps = appsOf(row);
    const scope: TokenScope | undefined = row.environment
      ? { environment: row.environment, ...(apps ? { apps: new Set(apps) } : {}) }
      : undefined;
    return {
      principal: {
        kind: row.kind,
        tokenId,
        ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
        ...(scope ? { scope, blobGrants: this.grantsOf(tokenId) } : {}),
      },
    };
  }

  /** A scoped token's blob grants, now the most recently used. */
  private grantsOf(tokenId: string): BlobGrants {
    const held = this.scopedGrants.touch(tokenId);
    if (held) return held;
    const g = new BlobGrants(MAX_BLOB_GRANTS, new StoredGrants(this.store, tokenId));
    this.scopedGrants.set(tokenId, g);
    return g;
  }

  private async verifySecret(tokenId: string, tokenSecret: string): Promise<Principal | { row: TokenRow } | undefined> {
    if (typeof tokenId !== "string" || typeof tokenSecret !== "string") return undefined;
    const given = Buffer.from(hashSecret(tokenSecret), "hex");
    const ct = this.containerTokens.get(tokenId);
    if (ct) {
      return timingSafeEqual(given, Buffer.from(ct.hash, "hex"))
        ? { kind: "container", tokenId, containerId: ct.containerId, blobGrants: ct.grants }
        : undefined;
    }
    const row = await this.store.getToken(tokenId);
    if (!row) return undefined;
    return timingSafeEqual(given, Buffer.from(row.secretHash, "hex")) ? { row } : undefined;
  }
}

/** A stored token's app scope (a JSON array of names), or null for all apps. */
function appsOf(row: TokenRow): string[] | null {
  if (!row.apps) return null;
  const v: unknown = JSON.parse(row.apps);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : null;
}
