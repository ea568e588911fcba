import { decodePayload, MAX_PARTITION_CHARS, type RequestParams } from "@skiff/protocol";
import { checkParams } from "../check-params.js";
import { InvalidError } from "../errors.js";
import { encodeForWire } from "../payloads.js";
import {
  checkName,
  type ObjectDeleteParams,
  type ObjectEphemeralParams,
  type ObjectFromNameParams,
  ObjectHandle,
  refOf,
} from "./handle.js";

/** Options of `Queue.put` / `putMany`. */
export interface QueuePutParams {
  /** The partition ("" is the default one). Each partition is its own FIFO. */
  partition?: string;
}

/** Options of `Queue.get` / `getMany`. */
export interface QueueGetParams {
  partition?: string;
  /** Longest wait for an item while the queue is empty; 0 does not wait. @defaultValue forever */
  timeoutMs?: number;
}

export interface QueueLenParams {
  partition?: string;
  /** Count every partition. @defaultValue false */
  total?: boolean;
}

export interface QueueClearParams {
  partition?: string;
  /** Clear every partition. @defaultValue false */
  all?: boolean;
}

export interface QueueIterateParams {
  partition?: string;
  /** Iteration ends when no item came for this long. @defaultValue 0 (ends once the queue is empty) */
  itemPollTimeoutMs?: number;
}

/** Largest putMany sent as one request (it is all or nothing); larger ones are an error. */
const MAX_PUT_BYTES = 32 * 1024 * 1024;
/** Most items one getMany asks for (the server's limit). */
const MAX_GET_ITEMS = 10_000;

function partitionOf(p: { partition?: string }): string {
  const v = p.partition ?? "";
  if (typeof v !== "string" || v.length > MAX_PARTITION_CHARS)
    throw new InvalidError(`partition must be a string of at most ${MAX_PARTITION_CHARS} characters`);
  return v;
}

function timeoutOf(p: { timeoutMs?: number }): number | undefined {
  const t = p.timeoutMs;
  if (t === undefined) return undefined;
  if (typeof t !== "number" || !(t >= 0) || !Number.isFinite(t))
    throw new InvalidError(`timeoutMs must be a number >= 0, got ${String(t)}`);
  return Math.round(t);
}

/**
 * A FIFO queue in the control plane (api.md §7), per partition. Each item is received by
 * exactly one get, even with many getters at once; a get waits while the queue is empty and
 * is woken by a put at once. An item is acknowledged as soon as its get's reply arrives: one
 * in flight to a getter whose connection is lost goes back to the front of its partition
 * (at-least-once across a lost connection). A put resolves once its items are durable.
 */
export class Queue<T = unknown> extends ObjectHandle {
  static fromName<T = unknown>(name: string, params: ObjectFromNameParams = {}): Queue<T> {
    return new Queue<T>(refOf("queue", checkName("queue", name), params));
  }

  /** A new Queue deleted at the end of an `await using` scope, or when its app or client session ends. */
  static ephemeral<T = unknown>(params: ObjectEphemeralParams = {}): Queue<T> {
    return new Queue<T>(refOf("queue", undefined, params));
  }

  /** Deletes a named Queue and its items. @throws NotFoundError if there is none. */
  static delete(name: string, params: ObjectDeleteParams = {}): Promise<void> {
    return ObjectHandle.deleteNamed("queue", name, params);
  }

  async put(value: T, params: QueuePutParams = {}): Promise<void> {
    checkParams("put", params, ["partition"]);
    await this.putMany([value], params);
  }

  /** Adds items in order, all or none (a full partition takes none of them). */
  async putMany(values: Iterable<T>, params: QueuePutParams = {}): Promise<void> {
    checkParams("putMany", params, ["partition"]);
    const partition = partitionOf(params);
    const list = Array.isArray(values) ? (values as T[]) : [...values];
    if (list.length === 0) return;
    if ((await this.resolve()).packed) {
      // One encoding of the list (an error names values[i]), which the server splits into its
      // items: no encode call, and no byte string in the frame, per item.
      const items = encodeForWire(list, "values");
      if (items.byteLength > MAX_PUT_BYTES)
        throw new InvalidError(`putMany: the items encode to more than ${MAX_PUT_BYTES} bytes: put them in parts`);
      await this.call("queue.put", { partition, items });
      return;
    }
    const encoded: Uint8Array[] = [];
    let bytes = 0;
    for (const v of list) {
      const b = encodeForWire(v, `values[${encoded.length}]`);
      bytes += b.byteLength;
      if (bytes > MAX_PUT_BYTES)
        throw new InvalidError(`putMany: the items encode to more than ${MAX_PUT_BYTES} bytes: put them in parts`);
      encoded.push(b);
    }
    if (encoded.length === 0) return;
    await this.call("queue.put", { partition, values: encoded });
  }

  /** The oldest item, waiting while the queue is empty; undefined once timeoutMs passed. */
  async get(params: QueueGetParams = {}): Promise<T | undefined> {
    checkParams("get", params, ["partition", "timeoutMs"]);
    const items = await this.getMany(1, params);
    return items[0];
  }

  /** Up to n of the oldest items: waits for the first, then takes what is there. */
  async getMany(n: number, params: QueueGetParams = {}): Promise<T[]> {
    checkParams("getMany", params, ["partition", "timeoutMs"]);
    if (!Number.isInteger(n) || n < 1) throw new InvalidError(`getMany: n must be a positive integer, got ${n}`);
    const partition = partitionOf(params);
    const timeoutMs = timeoutOf(params);
    const p: Omit<RequestParams<"queue.get">, "objectId"> = { partition, n: Math.min(n, MAX_GET_ITEMS), packed: true };
    if (timeoutMs !== undefined) p.timeoutMs = timeoutMs;
    // A get resent after a reconnect is safe: the lost connection's items went back.
    const r = await this.call("queue.get", p, true);
    if (r.leaseId !== undefined) (await this.client())._connection.emit("queue.ack", { leaseId: r.leaseId });
    if (r.items !== undefined) {
      // One CBOR array of the items (a server that knows `packed`): one decode for them all.
      const list = decodePayload(r.items);
      if (!Array.isArray(list)) throw new InvalidError("queue.get: the server sent items that are not a list");
      return list as T[];
    }
    return (r.values ?? []).map((v) => decodePayload(v) as T);
  }

  /** Items waiting in a partition (or in all, with `total`). */
  async len(params: QueueLenParams = {}): Promise<number> {
    checkParams("len", params, ["partition", "total"]);
    return (await this.call("queue.len", { partition: partitionOf(params), total: params.total ?? false }, true)).n;
  }

  async clear(params: QueueClearParams = {}): Promise<void> {
    checkParams("clear", params, ["partition", "all"]);
    await this.call("queue.clear", { partition: partitionOf(params), all: params.all ?? false }, true);
  }

  /** Items as they come; ends when none came for itemPollTimeoutMs. */
  async *iterate(params: QueueIterateParams = {}): AsyncGenerator<T> {
    checkParams("iterate", params, ["partition", "itemPollTimeoutMs"]);
    const timeoutMs = timeoutOf({ timeoutMs: params.itemPollTimeoutMs ?? 0 }) ?? 0;
    const partition = partitionOf(params);
    for (;;) {
      // One at a time: an item taken is the consumer's, so none is taken that it may not want.
      const items = await this.getMany(1, { partition, timeoutMs });
      if (items.length === 0) return;
      yield items[0]!;
    }
  }
}
