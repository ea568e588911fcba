import { newId, OBJECT_NAME, type ObjectInfo, type ObjectKindWire } from "@skiff/protocol";
import { ApiError, invalid, notFound } from "../api/api-error.js";
import type { ObjectRow, ObjectStore } from "../store/object-store.js";

/** How a kind is named in messages: as the SDK class. */
export const KIND_NAME: Record<ObjectKindWire, string> = { dict: "Dict", queue: "Queue", volume: "Volume" };
const PREFIX: Record<ObjectKindWire, string> = { dict: "di", queue: "qu", volume: "vo" };

/**
 * Who asks: a container (or a scoped token) is held to its own environment; a container owns
 * ephemeral objects by its app.
 */
export interface Caller {
  /** Set for a container or a scoped token: the only environment it may reach. */
  environment?: string;
  /** Who that is, for the refusal ("a container of environment …", "token tk-… (scoped to …)"). */
  who?: string;
  /** Set for a container token: its app (ephemeral objects die with it). */
  appId?: string;
  sessionId?: string;
}

export function checkKind(kind: unknown): ObjectKindWire {
  if (kind !== "dict" && kind !== "queue" && kind !== "volume") throw invalid(`kind must be dict, queue or volume`);
  return kind;
}

/**
 * Names and lifetimes of objects: named per environment (one name space across kinds),
 * ephemeral ones owned by an app or a client session. Every operation on an object resolves
 * its id here, so a deleted object, or one of another kind or environment, fails clearly.
 */
export class ObjectRegistry {
  private readonly deletedListeners: ((row: ObjectRow) => void)[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly maxPerEnvironment: number,
  ) {}

  /** Refuses a new object past the environment's limit (a create that races may pass it by a few). */
  private async checkRoom(kind: ObjectKindWire, environment: string): Promise<void> {
    const n = await this.store.countObjects(environment);
    if (n >= this.maxPerEnvironment)
      throw new ApiError(
        "failed_precondition",
        `environment "${environment}" holds ${n} objects, the limit (server flag --object-limits maxObjectsPerEnvironment=N): delete some (\`skiff ${kind} list\`, \`skiff ${kind} delete NAME\`) before creating another ${KIND_NAME[kind]}`,
      );
  }

  /** Called after an object is deleted (waiters on it are failed). */
  onDeleted(listener: (row: ObjectRow) => void): void {
    this.deletedListeners.push(listener);
  }

  checkEnvironment(caller: Caller, environment: string): void {
    if (caller.environment !== undefined && caller.environment !== environment)
      throw new ApiError(
        "permission_denied",
        `${caller.who ?? `a container of environment "${caller.environment}"`} cannot reach objects of environment "${environment}"`,
      );
  }

  async get(
    caller: Caller,
    kind: ObjectKindWire,
    name: string,
    environment: string,
    createIfMissing: boolean,
  ): Promise<{ objectId: string; created: boolean }> {
    if (!OBJECT_NAME.test(name)) throw invalid(`${KIND_NAME[kind]} name ${JSON.stringify(name)} is invalid`);
    this.checkEnvironment(caller, environment);
    let row = await this.store.findObject(environment, name);
    let created = false;
    if (!row) {
      if (!createIfMissing)
        throw notFound(
          `${KIND_NAME[kind]} "${name}" not found in environment "${environment}" (pass { createIfMissing: true } or run \`skiff ${kind} create ${name}\`)`,
        );
      await this.checkRoom(kind, environment);
      const fresh: ObjectRow = {
        id: newId(PREFIX[kind]),
        kind,
        environment,
        name,
        ownerApp: null,
        ownerSession: null,
        createdAt: Date.now(),
      };
      row = await this.store.createObject(fresh);
      created = row.id === fresh.id;
    }
    this.sameKind(row, kind);
    return { objectId: row.id, created };
  }

  async ephemeral(caller: Caller, kind: ObjectKindWire, environment: string): Promise<{ objectId: string }> {
    this.checkEnvironment(caller, environment);
    if (!caller.appId && !caller.sessionId) throw invalid("an ephemeral object needs a client session");
    await this.checkRoom(kind, environment);
    const row: ObjectRow = {
      id: newId(PREFIX[kind]),
      kind,
      environment,
      name: null,
      ownerApp: caller.appId ?? null,
      ownerSession: caller.sessionId ?? null,
      createdAt: Date.now(),
    };
    await this.store.createObject(row);
    return { objectId: row.id };
  }

  async list(caller: Caller, kind: ObjectKindWire, environment: string): Promise<ObjectInfo[]> {
    this.checkEnvironment(caller, environment);
    return (await this.store.listObjects(environment, kind)).map((r) => ({
      objectId: r.id,
      kind: r.kind,
      name: r.name ?? "",
      environment: r.environment,
      createdAt: r.createdAt,
    }));
  }

  async delete(
    caller: Caller,
    kind: ObjectKindWire,
    environment: string,
    ref: { name?: string; objectId?: string },
  ): Promise<void> {
    this.checkEnvironment(caller, environment);
    const row = ref.objectId
      ? await this.store.getObject(ref.objectId)
      : await this.store.findObject(environment, ref.name ?? "");
    const what = ref.name ? `"${ref.name}"` : ref.objectId;
    if (!row || row.environment !== environment)
      throw notFound(`${KIND_NAME[kind]} ${what} not found in environment "${environment}"`);
    this.sameKind(row, kind);
    await this.remove(row);
  }

  /** An object by id, unchecked (scope-rules.ts reads whether it is named). */
  row(objectId: string): Promise<ObjectRow | undefined> {
    return this.store.getObject(objectId);
  }

  /** A named object, unchecked. */
  find(environment: string, name: string): Promise<ObjectRow | undefined> {
    return this.store.findObject(environment, name);
  }

  /** The object an operation names, checked for kind and the caller's environment. */
  async resolve(caller: Caller, objectId: string, kind: ObjectKindWire): Promise<ObjectRow> {
    const row = await this.store.getObject(objectId);
    if (!row)
      throw notFound(`${KIND_NAME[kind]} ${objectId} no longer exists (it was deleted, or its app or scope ended)`);
    this.sameKind(row, kind);
    this.checkEnvironment(caller, row.environment);
    return row;
  }

  /** An app stopped: its ephemeral objects go. */
  async appStopped(appId: string): Promise<void> {
    for (const row of await this.store.ownedObjects({ app: appId })) await this.remove(row);
  }

  /** A client session ended for good: its ephemeral objects go. */
  async sessionGone(sessionId: string): Promise<void> {
    for (const row of await this.store.ownedObjects({ session: sessionId })) await this.remove(row);
  }

  /**
   * Server start: ephemeral objects of apps that are no longer live go now; those of client
   * sessions get the session's grace (`dropSession`) to come back.
   */
  async restore(
    isAppLive: (appId: string) => Promise<boolean>,
    dropSession: (sessionId: string) => void,
  ): Promise<void> {
    const sessions = new Set<string>();
    for (const row of await this.store.ephemeralObjects()) {
      if (row.ownerApp) {
        if (!(await isAppLive(row.ownerApp))) await this.remove(row);
      } else if (row.ownerSession) sessions.add(row.ownerSession);
    }
    for (const s of sessions) dropSession(s);
  }

  private sameKind(row: ObjectRow, kind: ObjectKindWire): void {
    if (row.kind !== kind) {
      const what = row.name ? `"${row.name}"` : row.id;
      throw invalid(`${what} is a ${KIND_NAME[row.kind]}, not a ${KIND_NAME[kind]}`);
    }
  }

  private async remove(row: ObjectRow): Promise<void> {
    if (await this.store.deleteObject(row.id)) for (const l of this.deletedListeners) l(row);
  }
}
