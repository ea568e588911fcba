import { MAX_PAYLOAD_BYTES } from "@skiff/protocol";

/** Limits and lifetimes of objects, set on the server (`skiff server --queue-max-items …`). */
export interface ObjectLimits {
  /** Items one queue partition may hold. @defaultValue 100_000 */
  queueMaxItems: number;
  /** Largest queue item, CBOR-encoded. @defaultValue 1 MiB */
  queueMaxItemBytes: number;
  /** Partitions one queue may have. @defaultValue 1000 */
  queueMaxPartitions: number;
  /** A partition with no put for this long is cleared. @defaultValue 24 h (as Modal) */
  queuePartitionTtlMs: number;
  /** Largest Dict value, CBOR-encoded (larger than 1 MiB travels as a blob). @defaultValue 64 MiB */
  dictMaxValueBytes: number;
  /** A Dict entry neither written nor read for this long is dropped. @defaultValue 7 days (as Modal) */
  dictIdleTtlMs: number;
  /** Entries one Dict may hold (a put of a new key past it fails; overwrites still work). @defaultValue 1_000_000 */
  dictMaxEntries: number;
  /** Objects (Dicts, Queues, Volumes, named or ephemeral) one environment may hold. @defaultValue 10_000 */
  maxObjectsPerEnvironment: number;
}

export const DEFAULT_OBJECT_LIMITS: ObjectLimits = {
  queueMaxItems: 100_000,
  queueMaxItemBytes: 1024 * 1024,
  queueMaxPartitions: 1000,
  queuePartitionTtlMs: 24 * 3600 * 1000,
  dictMaxValueBytes: MAX_PAYLOAD_BYTES,
  dictIdleTtlMs: 7 * 24 * 3600 * 1000,
  dictMaxEntries: 1_000_000,
  maxObjectsPerEnvironment: 10_000,
};

/** Items one queue.get may take. */
export const MAX_GET_ITEMS = 10_000;
/**
 * Bytes of items one queue.get answers with (past the first run): n items of up to
 * queueMaxItemBytes each would otherwise make a reply past the frame limit, which the client
 * refuses, and the items would go back and come again forever. As much as one putMany carries.
 */
export const MAX_GET_BYTES = 32 * 1024 * 1024;
/** Entries one dict.scan page may hold. */
export const MAX_SCAN_PAGE = 1000;
/** Unacknowledged queue gets one connection may hold (a client acknowledges at once). */
export const MAX_LEASES_PER_PEER = 1024;

/**
 * Parses `--object-limits queueMaxItems=1000,dictIdleTtlMs=60000`: the named limits of
 * ObjectLimits, each a positive integer. Throws an Error naming what is wrong.
 */
export function parseObjectLimits(text: string): Partial<ObjectLimits> {
  const out: Partial<ObjectLimits> = {};
  for (const part of text.split(",").filter(Boolean)) {
    const [name, value, ...rest] = part.split("=");
    if (!name || value === undefined || rest.length > 0 || !Object.hasOwn(DEFAULT_OBJECT_LIMITS, name))
      throw new Error(
        `--object-limits: ${JSON.stringify(part)} is not NAME=N with NAME one of ${Object.keys(DEFAULT_OBJECT_LIMITS).join(", ")}`,
      );
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--object-limits: ${name} must be a positive integer`);
    out[name as keyof ObjectLimits] = n;
  }
  return out;
}
