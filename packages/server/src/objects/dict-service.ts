import { type DictEntryWire, MAX_DICT_KEY_CHARS, type Payload } from "@skiff/protocol";
import { invalid } from "../api/api-error.js";
import type { ObjectStore, StoredValue } from "../store/object-store.js";
import type { ObjectLimits } from "./limits.js";

/** Where a blob's size is read (to hold a large value to the limit). */
export type BlobSize = (blobId: string) => Promise<number | undefined>;

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

  put(dictId: string, key: string, value: StoredValue, skipIfExists: boolean): Promise<boolean> {
    return this.store.dictPut(dictId, key, value, Date.now(), skipIfExists);
  }

  update(dictId: string, entries: [string, StoredValue][]): Promise<void> {
    return this.store.dictUpdate(dictId, entries, Date.now());
  }

  async get(dictId: string, key: string): Promise<StoredValue | undefined> {
    return this.store.dictGet(dictId, key, Date.now(), this.limits.dictIdleTtlMs / 10);
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

  /** Drops entries idle past the TTL. */
  expire(now: number): Promise<number> {
    return this.store.dictExpire(now - this.limits.dictIdleTtlMs);
  }
}
