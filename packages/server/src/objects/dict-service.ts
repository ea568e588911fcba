import { type DictEntryWire, MAX_DICT_KEY_CHARS, OrderedMap, type Payload } from "@skiff/protocol";
import { ApiError, invalid } from "../api/api-error.js";
import type { ObjectStore, StoredValue } from "../store/object-store.js";
import type { ObjectLimits } from "./limits.js";

/** Where a blob's size is read (to hold a large value to the limit). */
export type BlobSize = (blobId: string) => Promise<number | undefined>;

/** Dicts whose entry count is remembered (an upper bound each); the least recent is forgotten. */
const SIZES_KEPT = 10_000;

/**
 * Text both stores keep exactly: no NUL (Postgres text cannot hold it; SQLite can, so it is
 * refused on both). Lone surrogates never arrive: CBOR text is UTF-8 (the SDK refuses them).
 */
export function checkStorableText(s: string, what: string): void {
  if (s.includes("\0")) throw invalid(`${what} contains a NUL character ("\\0"), which the store cannot keep`);
}

/**
 * Dicts over the object store: keys arrive encoded with their type, values as payloads
 * (CBOR inline, or a blob for a large one). Every write resolves once durable.
 */
export class DictService {
  constructor(
    private readonly store: ObjectStore,
    private readonly limits: ObjectLimits,
    private readonly blobSize: BlobSize,
  ) {}

  static key(key: unknown, what = "key"): string {
    if (typeof key !== "string" || !/^[snb]:/.test(key)) throw invalid(`${what} must be an encoded dict key`);
    if (key.length > MAX_DICT_KEY_CHARS) throw invalid(`${what} is longer than ${MAX_DICT_KEY_CHARS} characters`);
    checkStorableText(key, what);
    return key;
  }

  /** Checks a value against the size limit and turns it into what the store keeps. */
  async value(v: unknown, what = "value"): Promise<StoredValue> {
    const max = this.limits.dictMaxValueBytes;
    if (v instanceof Uint8Array) {
      if (v.byteLength > max)
        throw invalid(`${what} is ${v.byteLength} bytes, over the Dict value limit of ${max} bytes`);
      return { inline: v };
    }
    if (v && typeof v === "object" && typeof (v as { blob?: unknown }).blob === "string") {
      const blob = (v as { blob: string }).blob;
      const size = await this.blobSize(blob);
      if (size === undefined) throw invalid(`${what} blob ${blob} was not uploaded`);
      if (size > max) throw invalid(`${what} is ${size} bytes, over the Dict value limit of ${max} bytes`);
      return { blob };
    }
    throw invalid(`${what} must be bytes or { blob }`);
  }

  static payload(v: StoredValue): Payload {
    return "blob" in v ? { blob: v.blob } : v.inline;
  }

  /**
   * How stale an entry's idle time may be: a read or an overwrite refreshes it only when it is
   * older than this (a tenth of the TTL), so that neither rewrites the idle-time index each time.
   */
  private get touchAfter(): number {
    return this.limits.dictIdleTtlMs / 10;
  }

  async put(dictId: string, label: string, key: string, value: StoredValue, skipIfExists: boolean): Promise<boolean> {
    await this.room(dictId, label, [key]);
    return this.store.dictPut(dictId, key, value, Date.now(), skipIfExists, this.touchAfter);
  }

  async update(dictId: string, label: string, entries: [string, StoredValue][]): Promise<void> {
    await this.room(
      dictId,
      label,
      entries.map(([k]) => k),
    );
    return this.store.dictUpdate(dictId, entries, Date.now(), this.touchAfter);
  }

  /**
   * Holds a Dict to dictMaxEntries without a count per write: each Dict's count is known as an
   * upper bound (counted once, then one more per key written), and counted again only when
   * that bound reaches the limit. At the limit, a write of keys already there still passes.
   * Puts racing at the limit may pass it by a few.
   */
  private async room(dictId: string, label: string, keys: string[]): Promise<void> {
    const max = this.limits.dictMaxEntries;
    let n = this.sizes.get(dictId);
    this.sizes.delete(dictId);
    if (n === undefined || n + keys.length > max) {
      n = await this.store.dictLen(dictId);
      if (n + keys.length > max) {
        let fresh = 0;
        for (const k of new Set(keys))
          if ((await this.store.dictGet(dictId, k, 0, Number.POSITIVE_INFINITY)) === undefined) fresh++;
        if (n + fresh > max)
          throw new ApiError(
            "failed_precondition",
            `Dict ${label} holds ${n} entries, and ${fresh} new key(s) would pass its limit of ${max} (server flag --object-limits dictMaxEntries=N): delete entries or use another Dict; nothing was written`,
          );
      }
    }
    this.sizes.set(dictId, n + keys.length);
  }
  /**
   * Per Dict, an upper bound of its entries (see room), least recently written first: the
   * SIZES_KEPT Dicts written last (evicted in O(1), ordered-map.ts).
   */
  private readonly sizes = new OrderedMap<string, number>(SIZES_KEPT);

  async get(dictId: string, key: string): Promise<StoredValue | undefined> {
    return this.store.dictGet(dictId, key, Date.now(), this.touchAfter);
  }

  delete(dictId: string, key: string): Promise<StoredValue | undefined> {
    return this.store.dictDelete(dictId, key);
  }

  len(dictId: string): Promise<number> {
    return this.store.dictLen(dictId);
  }

  async scan(dictId: string, after: string | undefined, limit: number, values: boolean): Promise<DictEntryWire[]> {
    const rows = await this.store.dictScan(dictId, after, limit);
    return rows.map((r) => (values ? { key: r.key, value: DictService.payload(r.value) } : { key: r.key }));
  }

  clear(dictId: string): Promise<void> {
    return this.store.dictClear(dictId);
  }

  /**
   * Drops entries idle past the TTL. An entry's stored time may be up to `touchAfter` older
   * than its last read or write, so only entries stored as idle for TTL + touchAfter go: none
   * is dropped before it has been idle for the TTL (some live up to a tenth longer).
   */
  expire(now: number): Promise<number> {
    return this.store.dictExpire(now - this.limits.dictIdleTtlMs - this.touchAfter);
  }
}
