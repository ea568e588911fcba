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
}

/**
 * Tokens are an id plus a secret; only a hash of the secret is stored. Container tokens
 * live in memory for the life of their container.
 */
export class TokenService {
  private readonly containerTokens = new Map<string, { hash: string; containerId: string }>();

  constructor(private readonly store: Store) {}

  create(kind: "admin" | "api" | "web" | "worker"): { tokenId: string; tokenSecret: string } {
    const tokenId = randomToken("tk", 9);
    const tokenSecret = randomToken("ts", 24);
    this.store.insertToken({
      id: tokenId,
      secretHash: hashSecret(tokenSecret),
      kind,
      createdAt: Date.now(),
    });
    return { tokenId, tokenSecret };
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

  /** The principal for a token, or undefined if it is unknown or the secret is wrong. */
  async verify(tokenId: string, tokenSecret: string): Promise<Principal | undefined> {
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
    return timingSafeEqual(given, Buffer.from(row.secretHash, "hex")) ? { kind: row.kind, tokenId } : undefined;
  }
}
