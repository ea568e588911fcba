import { invalid } from "../api/api-error.js";
import type { QueueItems, QueueRun } from "../store/object-store.js";
import { itemsOf, runBody } from "../store/queue-runs.js";
import { arrayHeader, checkItem, splitItems } from "./cbor-items.js";

/**
 * Queue items on the wire (packages/protocol/src/objects.ts): a put's items as they arrive,
 * a get's answer as it leaves. A batch is one CBOR array both ways (its header, then the items'
 * bytes back to back, as the client encoded them); older clients send and get a byte string
 * per item.
 */

/** A get's answer: the items as one CBOR array (`items`), or a byte string each (`values`). */
export type GetReply = { items?: Uint8Array; values?: Uint8Array[]; leaseId?: number };

/**
 * The items of a queue.put, each one CBOR data item: `items` (one CBOR array, split where each
 * item ends, no copy) or `values` (a byte string each, each checked, then put side by side).
 * Throws a clear error for anything else (nothing is written).
 */
export function putItems(params: { values?: unknown; items?: unknown }): QueueItems {
  if (params.items !== undefined) {
    const bytes = params.items;
    if (!(bytes instanceof Uint8Array)) throw invalid("items must be bytes (a CBOR array of the items)");
    const split = splitItems(bytes);
    if (typeof split === "string") throw invalid(split);
    if (split.ends.length === 0) throw invalid("items must hold at least one item");
    return { bytes, start: split.start, ends: split.ends };
  }
  const values = params.values;
  if (!Array.isArray(values) || values.length === 0) throw invalid("values must be a non-empty array");
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    if (!(v instanceof Uint8Array)) throw invalid(`values[${i}] must be bytes`);
    const fault = checkItem(v, i);
    if (fault) throw invalid(fault);
  }
  return itemsOf(values as Uint8Array[]);
}

export const empty = (packed: boolean): GetReply => (packed ? { items: arrayHeader(0) } : { values: [] });

/** Taken runs as one CBOR array: its header, then each run's items as they are stored. */
export function packRuns(runs: QueueRun[]): Uint8Array {
  let n = 0;
  let total = 0;
  for (const r of runs) {
    n += r.n;
    total += runBody(r).byteLength;
  }
  const header = arrayHeader(n);
  const out = new Uint8Array(header.byteLength + total);
  out.set(header, 0);
  let at = header.byteLength;
  for (const r of runs) {
    const body = runBody(r);
    out.set(body, at);
    at += body.byteLength;
  }
  return out;
}
