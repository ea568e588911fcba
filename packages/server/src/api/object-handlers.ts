import { MAX_PARTITION_CHARS, type RequestName } from "@skiff/protocol";
import { DictService } from "../objects/dict-service.js";
import { type Caller, checkKind } from "../objects/index.js";
import { MAX_GET_ITEMS, MAX_SCAN_PAGE } from "../objects/limits.js";
import type { StoredValue } from "../store/object-store.js";
import { ApiError, invalid } from "./api-error.js";
import type { Handler, HandlerDeps } from "./handlers.js";
import type { Peer } from "./peer.js";
import { bool, num, obj, str } from "./validate.js";

type ObjectRequest = Extract<RequestName, `object.${string}` | `dict.${string}` | `queue.${string}`>;

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
];

/** A container reaches only its own environment, and its ephemeral objects die with its app. */
function callerOf(peer: Peer, d: HandlerDeps): Caller {
  const p = peer.principal!;
  if (p.kind !== "container") return peer.sessionId ? { sessionId: peer.sessionId } : {};
  const c = d.engine.fleet.containers.get(p.containerId ?? "");
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
  return v;
}

async function dictOf(peer: Peer, d: HandlerDeps, q: Record<string, unknown>): Promise<string> {
  return (await d.objects.registry.resolve(callerOf(peer, d), objectId(q), "dict")).id;
}

async function queueOf(peer: Peer, d: HandlerDeps, q: Record<string, unknown>): Promise<{ id: string; label: string }> {
  const row = await d.objects.registry.resolve(callerOf(peer, d), objectId(q), "queue");
  return { id: row.id, label: row.name ? `"${row.name}"` : row.id };
}

export const objectHandlers: { [N in ObjectRequest]: Handler<N> } = {
  "object.get"(peer, p, d) {
    const q = params(p);
    return d.objects.registry.get(
      callerOf(peer, d),
      checkKind(q.kind),
      str(q, "name", { max: 64 }),
      env(q),
      bool(q, "createIfMissing", false),
    );
  },
  "object.ephemeral"(peer, p, d) {
    const q = params(p);
    return d.objects.registry.ephemeral(callerOf(peer, d), checkKind(q.kind), env(q));
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
    const id = await dictOf(peer, d, q);
    return { written: await d.objects.dicts.put(id, key, value, bool(q, "skipIfExists", false)) };
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
    const id = await dictOf(peer, d, q);
    if (entries.length > 0) await d.objects.dicts.update(id, entries);
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
    const queue = await queueOf(peer, d, q);
    await d.objects.queues.put(queue.id, queue.label, part, q.values as unknown[]);
    return {};
  },
  async "queue.get"(peer, p, d) {
    const q = params(p);
    const part = partition(q);
    const n = num(q, "n", { min: 1, max: MAX_GET_ITEMS });
    if (!Number.isInteger(n)) throw invalid("n must be an integer");
    const timeoutMs = num(q, "timeoutMs", { optional: true, min: 0, max: 7 * 24 * 3600 * 1000 });
    const queue = await queueOf(peer, d, q);
    return d.objects.queues.get(peer, queue.id, part, n, timeoutMs);
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
};
