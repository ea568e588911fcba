import { ApiError } from "../api/api-error.js";
import { describeScope } from "./scope.js";
import type { Principal } from "./tokens.js";

/**
 * Blobs one container, or one scoped API token, may read and pass on (issue 15; for scoped
 * tokens, kept per token by TokenService, and in the store so that they outlive a restart): those the server sent it (its inputs' arguments,
 * results and generator items of calls it made, Dict values it read) and those it uploaded.
 * A blob id is the sha256 of its bytes, so knowing one is not proof of having been given it.
 *
 * Only payloads over INLINE_PAYLOAD_BYTES (1 MiB) travel as blobs, so a container meets few:
 * the set keeps the last MAX_BLOB_GRANTS / 2 to MAX_BLOB_GRANTS (2 GiB of payloads at least)
 * and forgets older ones. A container that needs one it was given that long ago is refused
 * clearly.
 */
export const MAX_BLOB_GRANTS = 4096;

/**
 * Where a scoped token's grants are also kept, so that they outlive a restart (auth/stored-grants.ts).
 * A container's are not: it does not outlive its server's process.
 */
export interface GrantStore {
  /** Records a grant (in the store's next group commit). */
  add(id: string): void;
  /** Whether the store holds the grant. */
  has(id: string): Promise<boolean>;
  /** Resolves once every grant recorded so far is durable; undefined when none waits. */
  saved(): Promise<void> | undefined;
}

export class BlobGrants {
  /**
   * Two generations: ids go into `current`; when it holds half the bound, it becomes
   * `previous` and the old previous is dropped. O(1) per add and lookup, at most `max` held,
   * and an id seen again is carried into the current generation.
   */
  private current = new Set<string>();
  private previous = new Set<string>();

  constructor(
    private readonly max = MAX_BLOB_GRANTS,
    private readonly stored?: GrantStore,
  ) {}

  add(id: string): void {
    if (this.current.has(id)) return;
    this.remember(id);
    this.stored?.add(id);
  }

  /** Whether `id` is granted, as far as memory knows (a scoped token's store may know more: recall). */
  has(id: string): boolean {
    return this.current.has(id) || this.previous.has(id);
  }

  /** Whether `id` is granted, asking the store on a miss (a grant given before a restart). */
  async recall(id: string): Promise<boolean> {
    if (this.has(id)) return true;
    if (!this.stored || !(await this.stored.has(id))) return false;
    this.remember(id);
    return true;
  }

  /**
   * Resolves once every grant added so far is durable (undefined when none waits): what names
   * a blob to a scoped token is sent only then, so a crash cannot forget a grant it was told of.
   */
  saved(): Promise<void> | undefined {
    return this.stored?.saved();
  }

  private remember(id: string): void {
    if (this.current.has(id)) return;
    if (this.current.size >= this.max / 2) {
      this.previous = this.current;
      this.current = new Set();
    }
    this.current.add(id);
  }

  /** How many are held (an id in both generations counts twice). */
  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/** Keys whose string value names a blob: a payload's `blob`, a deploy's bundle, an image step's files. */
const BLOB_KEYS = new Set(["blob", "bundleBlobId", "blobId"]);

/**
 * The first blob reference (`{ blob: id }`, a Payload; `bundleBlobId`, an image step's
 * `blobId`) in what a container or scoped token sends that it was not given, or undefined. Payload bytes are not looked into; nesting past 8 levels neither
 * (payload references sit at most a few levels deep in the protocol's messages).
 */
export function ungrantedBlob(grants: BlobGrants, v: unknown, depth = 0): string | undefined {
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v) || depth > 8) return undefined;
  if (Array.isArray(v)) {
    for (const x of v) {
      const id = ungrantedBlob(grants, x, depth + 1);
      if (id !== undefined) return id;
    }
    return undefined;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (typeof x === "string") {
      if (BLOB_KEYS.has(k) && !grants.has(x)) return x;
      continue;
    }
    const id = ungrantedBlob(grants, x, depth + 1);
    if (id !== undefined) return id;
  }
  return undefined;
}

/**
 * Refuses a blob a container or a scoped token was not given: reading it (`request`
 * "blob.get") or passing it on in a request (a call's arguments, a Dict value, a bundle).
 */
export function blobRefused(p: Principal, id: string, request: string): ApiError {
  const blob = `blob ${id.slice(0, 80)}`;
  if (p.kind === "container")
    return new ApiError(
      "permission_denied",
      request === "blob.get"
        ? `a container reads only blobs of its own app's calls: ${blob} was not sent to this container, nor uploaded by it`
        : `${request}: ${blob} was not sent to this container, nor uploaded by it (a container passes on only blobs of its own app's calls)`,
    );
  const who = `token ${p.tokenId} is scoped to ${p.scope ? describeScope(p.scope) : "nothing"}`;
  return new ApiError(
    "permission_denied",
    `${who}: it cannot ${request === "blob.get" ? "read" : `${request} with`} ${blob}: a scoped token reads and passes on only blobs it uploaded or was sent (results, arguments and objects of its scope)`,
  );
}
