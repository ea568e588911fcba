import { MAX_PARTITION_CHARS, MAX_VOLUME_CHUNK, type RequestName } from "@skiff/protocol";
import { BlobGrants } from "../auth/blob-grants.js";
import { describeScope } from "../auth/scope.js";
import { checkStorableText, DictService } from "../objects/dict-service.js";
import { type Caller, checkKind } from "../objects/index.js";
import { MAX_GET_ITEMS, MAX_SCAN_PAGE } from "../objects/limits.js";
import { putItems } from "../objects/queue-wire.js";
import { volumePath } from "../objects/volume-paths.js";
import type { StoredValue } from "../store/object-store.js";
import { ApiError, invalid } from "./api-error.js";
import type { Handler, HandlerDeps } from "./handlers.js";
import type { Peer } from "./peer.js";
import { bool, num, obj, str } from "./validate.js";

type ObjectRequest = Extract<
  RequestName,
  `object.${string}` | `dict.${string}` | `queue.${string}` | `volume.${string}`
>;

/** Object requests a container's client may make (within its own environment). */
export const OBJECT_REQUESTS: readonly ObjectRequest[] = [
  "object.get",
  "object.ephemeral",
  "object.list",
  "object.delete",
  "dict.put",
  "dict.update",
  "dict.get",
  "dict.has",
  "dict.delete",
  "dict.len",
  "dict.scan",
  "dict.clear",
  "queue.put",
  "queue.get",
  "queue.len",
  "queue.clear",
  "volume.list",
  "volume.stat",
  "volume.read",
  "volume.upload.start",
  "volume.upload.chunk",
  "volume.upload.end",
  "volume.put",
  "volume.remove",
  "volume.copy",
  "volume.commit",
  "volume.reload",
];

/**
 * A container reaches only its own environment, and its ephemeral objects die with its app;
 * a scoped token reaches only its environment.
 */
function callerOf(peer: Peer, d: HandlerDeps): Caller {
  const p = peer.principal!;
  const session = peer.sessionId ? { sessionId: peer.sessionId } : {};
  if (p.scope)
    return {
      environment: p.scope.environment,
      who: `token ${p.tokenId} (scoped to ${describeScope(p.scope)})`,
      ...session,
    };
  if (p.kind !== "container") return session;
  const c = d.engine.container(p.containerId ?? "");
  if (!c) throw new ApiError("permission_denied", "this container is no longer running");
  return { environment: c.fn.environment, appId: c.fn.appId, ...(peer.sessionId ? { sessionId: peer.sessionId } : {}) };
}

const params = (p: unknown) => p as Record<string, unknown>;
const env = (q: Record<string, unknown>) => str(q, "environment", { max: 64 });
const objectId = (q: Record<string, unknown>) => str(q, "objectId", { max: 64 });

function partition(q: Record<string, unknown>): string {
  const v = q.partition ?? "";
  if (typeof v !== "string") throw invalid("partition must be a string");
  if (v.length > MAX_PARTITION_CHARS) throw invalid(`partition is longer than ${MAX_PARTITION_CHARS} characters`);
  checkStorableText(v, "partition");
  return v;
}

async function dictOf(peer: Peer, d: HandlerDeps, q: Record<string, unknown>): Promise<string> {
  return (await d.objects.registry.resolve(callerOf(peer, d), objectId(q), "dict")).id;
}

async function dictRowOf(
  peer: Peer,
  d: HandlerDeps,
  q: Record<string, unknown>,
): Promise<{ id: string; label: string }> {
  const row = await d.objects.registry.resolve(callerOf(peer, d), objectId(q), "dict");
  return { id: row.id, label: row.name ? `"${row.name}"` : row.id };
}

async function queueOf(peer: Peer, d: HandlerDeps, q: Record<string, unknown>): Promise<{ id: string; label: string }> {
  const row = await d.objects.registry.resolve(callerOf(peer, d), objectId(q), "queue");
  return { id: row.id, label: row.name ? `"${row.name}"` : row.id };
}

async function volumeOf(
  peer: Peer,
  d: HandlerDeps,
  q: Record<string, unknown>,
): Promise<{ id: string; label: string }> {
  const row = await d.objects.registry.resolve(callerOf(peer, d), objectId(q), "volume");
  return { id: row.id, label: `Volume ${row.name ? `"${row.name}"` : row.id}` };
}

/**
 * The content each connection was given the hash of by volume.stat, as "volumeId hash" (bounded
 * as blob grants are). A hash is the SHA-256 of the content, not proof of having been shown
 * it: volume.read serves only content of the volume it names.
 */
const stated = new WeakMap<Peer, BlobGrants>();

function statedContent(peer: Peer): BlobGrants {
  let g = stated.get(peer);
  if (!g) {
    g = new BlobGrants(256);
    stated.set(peer, g);
  }
  return g;
}

/**
 * @throws permission_denied unless `hash` is content of volume `v`: stated on this connection
 * (the reads of a file after its stat cost a set lookup), or else in the volume's newest
 * version (a read retried on a new connection).
 */
async function checkHolds(peer: Peer, d: HandlerDeps, v: { id: string; label: string }, hash: string): Promise<void> {
  if (stated.get(peer)?.has(`${v.id} ${hash}`)) return;
  if (await d.objects.volumes.holds(v.id, hash)) return statedContent(peer).add(`${v.id} ${hash}`);
  throw new ApiError(
    "permission_denied",
    `${v.label} holds no file with content ${hash.slice(0, 12)}…: volume.read serves only content of the volume it names (its file may have been replaced since: read it again)`,
  );
}

/** The container a request comes from (commit and reload work on its copy). */
function containerOf(peer: Peer, label: string): string {
  const p = peer.principal!;
  if (p.kind !== "container" || !p.containerId)
    throw new ApiError(
      "failed_precondition",
      `commit() and reload() of ${label} run inside a container that mounts it (from outside, writeFile commits at once)`,
    );
  return p.containerId;
}

/** Uploads belong to their connection and end with it. */
function uploadOwner(peer: Peer, d: HandlerDeps): object {
  if (!uploadCleanups.has(peer)) {
    const cleanup = () => d.objects.volumes.abandonUploads(peer);
    uploadCleanups.add(peer);
    peer.cleanups.add(cleanup);
  }
  return peer;
}
const uploadCleanups = new WeakSet<Peer>();

export const objectHandlers: { [N in ObjectRequest]: Handler<N> } = {
  async "object.get"(peer, p, d) {
    const q = params(p);
    const caller = callerOf(peer, d);
    const kind = checkKind(q.kind);
    const name = str(q, "name", { max: 64 });
    const environment = env(q);
    const create = bool(q, "createIfMissing", false);
    d.objects.registry.checkEnvironment(caller, environment); // refused before "does not exist"
    if (create) await d.environments.require(environment);
    const r = await d.objects.registry.get(caller, kind, name, environment, create);
    return kind === "queue" ? { ...r, packed: true } : r;
  },
  async "object.ephemeral"(peer, p, d) {
    const q = params(p);
    const caller = callerOf(peer, d);
    const kind = checkKind(q.kind);
    const environment = env(q);
    d.objects.registry.checkEnvironment(caller, environment);
    await d.environments.require(environment);
    const r = await d.objects.registry.ephemeral(caller, kind, environment);
    return kind === "queue" ? { ...r, packed: true } : r;
  },
  async "object.list"(peer, p, d) {
    const q = params(p);
    return { objects: await d.objects.registry.list(callerOf(peer, d), checkKind(q.kind), env(q)) };
  },
  async "object.delete"(peer, p, d) {
    const q = params(p);
    const name = str(q, "name", { optional: true, max: 64 });
    const id = str(q, "objectId", { optional: true, max: 64 });
    if (!name && !id) throw invalid("object.delete needs name or objectId");
    await d.objects.registry.delete(callerOf(peer, d), checkKind(q.kind), env(q), {
      ...(name ? { name } : {}),
      ...(id ? { objectId: id } : {}),
    });
    return {};
  },

  async "dict.put"(peer, p, d) {
    const q = params(p);
    const key = DictService.key(q.key);
    const value = await d.objects.dicts.value(q.value);
    const dict = await dictRowOf(peer, d, q);
    return { written: await d.objects.dicts.put(dict.id, dict.label, key, value, bool(q, "skipIfExists", false)) };
  },
  async "dict.update"(peer, p, d) {
    const q = params(p);
    if (!Array.isArray(q.entries)) throw invalid("entries must be an array");
    const entries: [string, StoredValue][] = [];
    for (const [i, e] of q.entries.entries()) {
      const o = obj(e, `entries[${i}]`);
      entries.push([
        DictService.key(o.key, `entries[${i}].key`),
        await d.objects.dicts.value(o.value, `entries[${i}].value`),
      ]);
    }
    const dict = await dictRowOf(peer, d, q);
    if (entries.length > 0) await d.objects.dicts.update(dict.id, dict.label, entries);
    return {};
  },
  async "dict.get"(peer, p, d) {
    const q = params(p);
    const key = DictService.key(q.key);
    const v = await d.objects.dicts.get(await dictOf(peer, d, q), key);
    return v ? { value: DictService.payload(v) } : {};
  },
  async "dict.has"(peer, p, d) {
    const q = params(p);
    const key = DictService.key(q.key);
    return { found: (await d.objects.dicts.get(await dictOf(peer, d, q), key)) !== undefined };
  },
  async "dict.delete"(peer, p, d) {
    const q = params(p);
    const key = DictService.key(q.key);
    const v = await d.objects.dicts.delete(await dictOf(peer, d, q), key);
    if (!v) return { found: false };
    return bool(q, "pop", false) ? { found: true, value: DictService.payload(v) } : { found: true };
  },
  async "dict.len"(peer, p, d) {
    return { n: await d.objects.dicts.len(await dictOf(peer, d, params(p))) };
  },
  async "dict.scan"(peer, p, d) {
    const q = params(p);
    const after = q.after === undefined ? undefined : DictService.key(q.after, "after");
    const limit = num(q, "limit", { min: 1, max: MAX_SCAN_PAGE });
    const entries = await d.objects.dicts.scan(await dictOf(peer, d, q), after, limit, bool(q, "values", false));
    return { entries, done: entries.length < limit };
  },
  async "dict.clear"(peer, p, d) {
    await d.objects.dicts.clear(await dictOf(peer, d, params(p)));
    return {};
  },

  async "queue.put"(peer, p, d) {
    const q = params(p);
    const part = partition(q);
    const values = putItems(q);
    const queue = await queueOf(peer, d, q);
    await d.objects.queues.put(queue.id, queue.label, part, values);
    return {};
  },
  async "queue.get"(peer, p, d) {
    const q = params(p);
    const part = partition(q);
    const n = num(q, "n", { min: 1, max: MAX_GET_ITEMS });
    if (!Number.isInteger(n)) throw invalid("n must be an integer");
    const timeoutMs = num(q, "timeoutMs", { optional: true, min: 0, max: 7 * 24 * 3600 * 1000 });
    const queue = await queueOf(peer, d, q);
    return d.objects.queues.get(peer, queue.id, part, n, timeoutMs, bool(q, "packed", false));
  },
  async "queue.len"(peer, p, d) {
    const q = params(p);
    const part = partition(q);
    const queue = await queueOf(peer, d, q);
    return { n: await d.objects.queues.len(queue.id, bool(q, "total", false) ? undefined : part) };
  },
  async "queue.clear"(peer, p, d) {
    const q = params(p);
    const part = partition(q);
    const queue = await queueOf(peer, d, q);
    await d.objects.queues.clear(queue.id, bool(q, "all", false) ? undefined : part);
    return {};
  },

  async "volume.list"(peer, p, d) {
    const q = params(p);
    const path = volumePath(q.path ?? "");
    const v = await volumeOf(peer, d, q);
    return { entries: await d.objects.volumes.list(v.id, path, bool(q, "recursive", false)) };
  },
  async "volume.stat"(peer, p, d) {
    const q = params(p);
    const path = volumePath(q.path);
    const v = await volumeOf(peer, d, q);
    const f = await d.objects.volumes.stat(v.id, path);
    statedContent(peer).add(`${v.id} ${f.hash}`);
    return { hash: f.hash, size: f.size };
  },
  async "volume.read"(peer, p, d) {
    const q = params(p);
    const v = await volumeOf(peer, d, q);
    const offset = num(q, "offset", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const length = num(q, "length", { min: 1, max: MAX_VOLUME_CHUNK });
    const hash = str(q, "hash", { max: 64 });
    await checkHolds(peer, d, v, hash);
    return { data: await d.objects.volumes.read(hash, offset, length) };
  },
  async "volume.upload.start"(peer, p, d) {
    await volumeOf(peer, d, params(p));
    return { uploadId: await d.objects.volumes.uploadStart(uploadOwner(peer, d)) };
  },
  async "volume.upload.chunk"(peer, p, d) {
    const q = params(p);
    const data = q.data;
    if (!(data instanceof Uint8Array) || data.byteLength > MAX_VOLUME_CHUNK)
      throw invalid(`data must be bytes, at most ${MAX_VOLUME_CHUNK}`);
    await d.objects.volumes.uploadChunk(uploadOwner(peer, d), str(q, "uploadId", { max: 64 }), data);
    return {};
  },
  "volume.upload.end"(peer, p, d) {
    return d.objects.volumes.uploadEnd(uploadOwner(peer, d), str(params(p), "uploadId", { max: 64 }));
  },
  async "volume.put"(peer, p, d) {
    const q = params(p);
    const path = volumePath(q.path);
    const v = await volumeOf(peer, d, q);
    const hash = str(q, "hash", { max: 64 });
    const size = num(q, "size", { min: 0, max: Number.MAX_SAFE_INTEGER });
    return d.objects.volumes.putFile(v.id, path, hash, size);
  },
  async "volume.remove"(peer, p, d) {
    const q = params(p);
    const path = volumePath(q.path);
    const v = await volumeOf(peer, d, q);
    await d.objects.volumes.remove(v.id, path, bool(q, "recursive", false));
    return {};
  },
  async "volume.copy"(peer, p, d) {
    const q = params(p);
    if (!Array.isArray(q.sources) || q.sources.length === 0 || q.sources.length > 1000)
      throw invalid("sources must be a non-empty array (at most 1000)");
    const sources = q.sources.map((s, i) => volumePath(s, `sources[${i}]`));
    const dest = volumePath(q.dest, "dest");
    // "dir/" names a directory, as for cp, rsync and `aws s3 cp`: the file goes inside it, also
    // when it does not exist yet (normalised, the slash is gone, and one file would be renamed).
    const intoDir = (q.dest as string).endsWith("/");
    const v = await volumeOf(peer, d, q);
    await d.objects.volumes.copy(v.id, sources, dest, intoDir);
    return {};
  },
  async "volume.commit"(peer, p, d) {
    const v = await volumeOf(peer, d, params(p));
    return d.objects.volumes.commitCopy(containerOf(peer, v.label), v.id, v.label);
  },
  async "volume.reload"(peer, p, d) {
    const v = await volumeOf(peer, d, params(p));
    return d.objects.volumes.reloadCopy(containerOf(peer, v.label), v.id, v.label);
  },
};
