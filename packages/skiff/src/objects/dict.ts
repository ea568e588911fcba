import {
  type DictEntryWire,
  type DictKey,
  decodeDictKey,
  decodePayload,
  encodeDictKey,
  type Payload,
} from "@skiff/protocol";
import { checkParams } from "../check-params.js";
import { InvalidError } from "../errors.js";
import { encodeForWire, fromPayload, inlinePayload, toPayload } from "../payloads.js";
import {
  checkName,
  type ObjectDeleteParams,
  type ObjectEphemeralParams,
  type ObjectFromNameParams,
  ObjectHandle,
  refOf,
} from "./handle.js";

export type { DictKey };

/** Options of `Dict.put`. */
export interface DictPutParams {
  /** Keep an existing value: the put then writes nothing and resolves false. @defaultValue false */
  skipIfExists?: boolean;
}

/** Entries fetched per round trip by keys() / values() / items(). */
const PAGE = 1000;

function wireKey(key: unknown): string {
  const k = encodeDictKey(key);
  if (k === undefined) {
    const what = typeof key === "number" ? String(key) : key === null ? "null" : typeof key;
    throw new InvalidError(`Dict key must be a string, a finite number or a bigint, got ${what}`);
  }
  // Text travels as UTF-8, which has no lone surrogate: two such keys would become one.
  if (typeof key === "string" && LONE_SURROGATE.test(key))
    throw new InvalidError("Dict key contains a lone UTF-16 surrogate (not well-formed Unicode), which cannot be sent");
  return k;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A key-value store in the control plane (api.md §7), reachable from any app, container or
 * client of its environment. Keys are strings, numbers or bigints; values are anything that
 * can be a function argument (CBOR), and keep their JavaScript types. Every write is durable
 * before its promise resolves. Entries neither read nor written for 7 days (the server's
 * `dictIdleTtlMs`) are dropped.
 */
export class Dict<K extends DictKey = DictKey, V = unknown> extends ObjectHandle {
  /** A Dict by name; resolved on first use. */
  static fromName<K extends DictKey = DictKey, V = unknown>(
    name: string,
    params: ObjectFromNameParams = {},
  ): Dict<K, V> {
    return new Dict<K, V>(refOf("dict", checkName("dict", name), params));
  }

  /** A new Dict deleted at the end of an `await using` scope, or when its app or client session ends. */
  static ephemeral<K extends DictKey = DictKey, V = unknown>(params: ObjectEphemeralParams = {}): Dict<K, V> {
    return new Dict<K, V>(refOf("dict", undefined, params));
  }

  /** Deletes a named Dict and its entries. @throws NotFoundError if there is none. */
  static delete(name: string, params: ObjectDeleteParams = {}): Promise<void> {
    return ObjectHandle.deleteNamed("dict", name, params);
  }

  /** A value as it is sent: inline, or (a large one) uploaded first and sent as its blob. */
  private async encodeValue(value: unknown, path: string): Promise<Payload> {
    const bytes = encodeForWire(value, path);
    return inlinePayload(bytes) ?? toPayload(bytes, await this.client());
  }

  private async decodeValue(v: Payload): Promise<unknown> {
    return v instanceof Uint8Array ? decodePayload(v) : fromPayload(v, await this.client());
  }

  /**
   * Stores a value; resolves once it is durable. With `skipIfExists`, an existing value is
   * kept: of many concurrent such puts exactly one writes, and only it resolves true.
   */
  async put(key: K, value: V, params: DictPutParams = {}): Promise<boolean> {
    checkParams("put", params, ["skipIfExists"]);
    const k = wireKey(key);
    const bytes = encodeForWire(value, "value");
    // Inline (most values): no turn spent on a blob.
    const v = inlinePayload(bytes) ?? (await toPayload(bytes, await this.client()));
    const r = await this.call("dict.put", { key: k, value: v, skipIfExists: params.skipIfExists ?? false }, true);
    return r.written;
  }

  /** The value of a key, or `defaultValue` (undefined) when it has none. */
  async get<D = undefined>(key: K, defaultValue?: D): Promise<V | D> {
    const v = (await this.call("dict.get", { key: wireKey(key) }, true)).value;
    if (v === undefined) return defaultValue as D;
    return (v instanceof Uint8Array ? decodePayload(v) : await this.decodeValue(v)) as V;
  }

  async has(key: K): Promise<boolean> {
    return (await this.call("dict.has", { key: wireKey(key) }, true)).found;
  }

  /** Removes a key; resolves whether it was there. */
  async delete(key: K): Promise<boolean> {
    return (await this.call("dict.delete", { key: wireKey(key), pop: false })).found;
  }

  /** Removes a key and returns its value, or `defaultValue` (undefined) when it had none. */
  async pop<D = undefined>(key: K, defaultValue?: D): Promise<V | D> {
    const r = await this.call("dict.delete", { key: wireKey(key), pop: true });
    return r.value === undefined ? (defaultValue as D) : ((await this.decodeValue(r.value)) as V);
  }

  /** Writes several entries at once (all or none), from a record, a Map or [key, value] pairs. */
  async update(entries: Record<string, V> | Map<K, V> | Iterable<readonly [K, V]>): Promise<void> {
    const pairs: (readonly [unknown, V])[] =
      entries instanceof Map || Symbol.iterator in Object(entries)
        ? [...(entries as Iterable<readonly [K, V]>)]
        : Object.entries(entries as Record<string, V>);
    const wire: DictEntryWire[] = [];
    for (const [i, [key, value]] of pairs.entries())
      wire.push({ key: wireKey(key), value: await this.encodeValue(value, `entries[${i}].value`) });
    await this.call("dict.update", { entries: wire }, true);
  }

  /** Number of entries. */
  async len(): Promise<number> {
    return (await this.call("dict.len", {}, true)).n;
  }

  /** Removes every entry. */
  async clear(): Promise<void> {
    await this.call("dict.clear", {}, true);
  }

  /** Keys in a stable order, fetched a page at a time. */
  async *keys(): AsyncGenerator<K> {
    for await (const [k] of this.scan(false)) yield k;
  }

  async *values(): AsyncGenerator<V> {
    for await (const [, v] of this.scan(true)) yield v as V;
  }

  async *items(): AsyncGenerator<[K, V]> {
    for await (const [k, v] of this.scan(true)) yield [k, v as V];
  }

  private async *scan(values: boolean): AsyncGenerator<[K, V | undefined]> {
    let after: string | undefined;
    for (;;) {
      const r = await this.call("dict.scan", { ...(after ? { after } : {}), limit: PAGE, values }, true);
      for (const e of r.entries) {
        const v = values && e.value !== undefined ? ((await this.decodeValue(e.value)) as V) : undefined;
        yield [decodeDictKey(e.key) as K, v];
      }
      if (r.done || r.entries.length === 0) return;
      after = r.entries[r.entries.length - 1]!.key;
    }
  }
}
