import { OrderedMap } from "@skiff/protocol";
import type { ObjectRow } from "../object-store.js";

/** Object rows kept by default: a few hundred bytes each. */
export const OBJECT_ROWS_KEPT = 4096;

/**
 * Object rows by id, for the embedded store only. Every Dict, Queue and Volume operation looks
 * its object up first (to check kind, environment, and that it still exists); a row never
 * changes once written, only goes, and on SQLite every delete runs in this process (one server
 * owns the file), so a row read once can answer again until its delete. Postgres does not use
 * this: another replica may delete the object there.
 *
 * Bounded: past `max` rows, the least recently used goes (in O(1): an OrderedMap, not a Map's
 * first key, which gets slow after many deletes). Rows are frozen: callers share them.
 */
export class ObjectRowCache {
  private readonly rows: OrderedMap<string, Readonly<ObjectRow>>;

  constructor(max = OBJECT_ROWS_KEPT) {
    this.rows = new OrderedMap(max);
  }

  get(id: string): Readonly<ObjectRow> | undefined {
    return this.rows.touch(id);
  }

  set(row: ObjectRow): Readonly<ObjectRow> {
    const frozen = Object.freeze({ ...row });
    this.rows.delete(row.id);
    this.rows.set(row.id, frozen);
    return frozen;
  }

  /** The object was deleted (or its delete may be rolled back: it is read again then). */
  delete(id: string): void {
    this.rows.delete(id);
  }

  /** A commit failed: what the rolled-back window wrote may be cached, so nothing is trusted. */
  clear(): void {
    this.rows.clear();
  }

  get size(): number {
    return this.rows.size;
  }
}
