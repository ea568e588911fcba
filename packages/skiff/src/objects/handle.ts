import {
  OBJECT_NAME,
  type ObjectKindWire,
  type RequestName,
  type RequestParams,
  type RequestResult,
} from "@skiff/protocol";
import { checkParams } from "../check-params.js";
import { type Client, type ClientOption, resolveClient } from "../client.js";
import { InvalidError, NotFoundError } from "../errors.js";
import type { RequestOptions } from "../transport/connection.js";

/** Options of `fromName` for Dict, Queue and Volume. */
export interface ObjectFromNameParams {
  /** Create the object if no object has this name. @defaultValue false */
  createIfMissing?: boolean;
  /** Defaults to the client's environment. */
  environment?: string;
  /** This client instead of `Client.fromEnv()`: a Client, or a promise of one. */
  client?: ClientOption;
}

/** Options of `ephemeral()` for Dict, Queue and Volume. */
export interface ObjectEphemeralParams {
  /** Defaults to the client's environment. */
  environment?: string;
  /** This client instead of `Client.fromEnv()`: a Client, or a promise of one. */
  client?: ClientOption;
}

/** Options of the static `delete(name)` for Dict, Queue and Volume. */
export interface ObjectDeleteParams {
  environment?: string;
  /** This client instead of `Client.fromEnv()`: a Client, or a promise of one. */
  client?: ClientOption;
}

interface Ref {
  kind: ObjectKindWire;
  /** undefined: ephemeral. */
  name: string | undefined;
  createIfMissing: boolean;
  environment: string | undefined;
  client: ClientOption | undefined;
}

const KIND_NAME: Record<ObjectKindWire, string> = { dict: "Dict", queue: "Queue", volume: "Volume" };

export function checkName(kind: ObjectKindWire, name: unknown): string {
  if (typeof name !== "string" || !OBJECT_NAME.test(name))
    throw new InvalidError(
      `${KIND_NAME[kind]}.fromName: invalid name ${JSON.stringify(name)} (letters, digits, . _ -, at most 64)`,
    );
  return name;
}

/**
 * What Dict, Queue and Volume share: a name (or none, for an ephemeral object) resolved to an
 * id once, on first use, through one client; every operation sends the id. An ephemeral
 * object is created on first use and deleted at the end of an `await using` scope (or when
 * its app or client session ends).
 */
/** A handle's object as resolved: through which client, its id, what its server takes. */
export interface Resolved {
  client: Client;
  objectId: string;
  /** The server takes queue.put's values packed as one CBOR array (object.get's `packed`). */
  packed: boolean;
}

const RETRYABLE: RequestOptions = { retryable: true };
const ONCE: RequestOptions = { retryable: false };

export abstract class ObjectHandle {
  private resolving: Promise<Resolved> | undefined;
  /** What `resolving` resolved to, once it has: a call then goes out without awaiting it. */
  private resolved: Resolved | undefined;
  private disposed = false;

  protected constructor(protected readonly ref: Ref) {}

  /** The name, or undefined for an ephemeral object. */
  get name(): string | undefined {
    return this.ref.name;
  }

  protected get label(): string {
    return `${KIND_NAME[this.ref.kind]} ${this.ref.name ? `"${this.ref.name}"` : "(ephemeral)"}`;
  }

  /** Resolves (or creates) the object now. @throws NotFoundError if it is missing. */
  async hydrate(): Promise<this> {
    await this.resolve();
    return this;
  }

  /** The object's id (resolving it first). */
  async objectId(): Promise<string> {
    return (await this.resolve()).objectId;
  }

  protected resolve(): Promise<Resolved> {
    if (this.disposed) return Promise.reject(new InvalidError(`${this.label} was deleted at the end of its scope`));
    if (!this.resolving) {
      const ref = this.ref;
      this.resolving = (async () => {
        const client = await resolveClient(ref.client);
        const environment = ref.environment ?? client.environment;
        const r =
          ref.name === undefined
            ? await client.request("object.ephemeral", { kind: ref.kind, environment })
            : await client.request(
                "object.get",
                { kind: ref.kind, name: ref.name, environment, createIfMissing: ref.createIfMissing },
                { retryable: true },
              );
        this.resolved = { client, objectId: r.objectId, packed: r.packed === true };
        return this.resolved;
      })();
      this.resolving.catch(() => {
        this.resolving = undefined;
      });
    }
    return this.resolving;
  }

  /** The client the object was resolved through (its requests go there). */
  protected async client(): Promise<Client> {
    return ((!this.disposed && this.resolved) || (await this.resolve())).client;
  }

  /**
   * Sends one request about this object (`params` without the id, which is set on it here);
   * a deleted object's error names it.
   */
  protected async call<N extends RequestName>(
    name: N,
    params: Omit<RequestParams<N>, "objectId">,
    retryable = false,
  ): Promise<RequestResult<N>> {
    const { client, objectId } = (!this.disposed && this.resolved) || (await this.resolve());
    // Set on the caller's own literal, not spread into a copy: one request object per call.
    (params as { objectId?: string }).objectId = objectId;
    try {
      return await client.request(name, params as RequestParams<N>, retryable ? RETRYABLE : ONCE);
    } catch (err) {
      if (err instanceof NotFoundError && /no longer exists/.test(err.message)) {
        // Named: the next use looks the name up again (it may be created anew).
        if (this.ref.name !== undefined) {
          this.resolving = undefined;
          this.resolved = undefined;
        }
        throw new NotFoundError(`${this.label} no longer exists: it was deleted (${name} failed)`);
      }
      throw err;
    }
  }

  /** Deletes an ephemeral object at the end of an `await using` scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.ref.name !== undefined || this.disposed) return;
    this.disposed = true;
    const r = this.resolving;
    if (!r) return;
    const { client, objectId } = await r;
    await client
      .request("object.delete", {
        kind: this.ref.kind,
        environment: this.ref.environment ?? client.environment,
        objectId,
      })
      .catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err;
      });
  }

  /** Deletes a named object and everything in it. @throws NotFoundError if it is missing. */
  protected static async deleteNamed(kind: ObjectKindWire, name: string, params: ObjectDeleteParams): Promise<void> {
    checkParams(`${kind[0]!.toUpperCase()}${kind.slice(1)}.delete`, params, ["environment", "client"]);
    checkName(kind, name);
    const client = await resolveClient(params.client);
    await client.request("object.delete", { kind, name, environment: params.environment ?? client.environment });
  }

  toString(): string {
    return this.label;
  }

  toJSON(): string {
    return this.label;
  }
}

/** Internal: a handle's parts, for subclasses. */
export function refOf(
  kind: ObjectKindWire,
  name: string | undefined,
  params: ObjectFromNameParams | ObjectEphemeralParams,
): Ref {
  const what = `${kind[0]!.toUpperCase()}${kind.slice(1)}`;
  if (name === undefined) checkParams(`${what}.ephemeral`, params, ["environment", "client"]);
  else checkParams(`${what}.fromName`, params, ["createIfMissing", "environment", "client"]);
  return {
    kind,
    name,
    createIfMissing: (params as ObjectFromNameParams).createIfMissing ?? false,
    environment: params.environment,
    client: params.client,
  };
}
