import { escapeLiteral } from "pg";
import { type Shape, shapeOf } from "./pg-batch.js";

/** A value a statement takes. */
export type SqlValue = string | number | boolean | null | Uint8Array | string[];

/**
 * One named statement of sql/postgres/queries.sql, ready both ways: as a parameterized query
 * ($1…, for reads) and as text with literals (for writes, which go to the server many at a
 * time in one multi-statement group commit: one round trip per commit, not per write).
 */
export class PgStatement {
  readonly text: string;
  private readonly names: string[] = [];
  private readonly parts: string[];
  private readonly slots: string[];

  constructor(
    readonly name: string,
    statement: string,
  ) {
    // One statement per op: statements are joined with ";" into a group commit.
    const sql = statement.trim().replace(/;\s*$/, "");
    const index = new Map<string, number>();
    this.text = sql.replace(/@([A-Za-z]\w*)/g, (_m, n: string) => {
      let i = index.get(n);
      if (i === undefined) {
        this.names.push(n);
        i = this.names.length;
        index.set(n, i);
      }
      return `$${i}`;
    });
    this.parts = sql.split(/@[A-Za-z]\w*/);
    this.slots = [...sql.matchAll(/@([A-Za-z]\w*)/g)].map((m) => m[1]!);
    this.shape = shapeOf(sql, this.names);
  }

  /** Values in $n order. */
  values(params: Record<string, SqlValue>): SqlValue[] {
    return this.names.map((n) => {
      const v = params[n];
      if (v === undefined) throw new Error(`${this.name}: no value for @${n}`);
      return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
    });
  }

  /** The statement with its values written in as literals. */
  literal(params: Record<string, SqlValue>): string {
    let out = this.parts[0]!;
    for (let i = 0; i < this.slots.length; i++) {
      const v = params[this.slots[i]!];
      if (v === undefined) throw new Error(`${this.name}: no value for @${this.slots[i]}`);
      out += toLiteral(v) + this.parts[i + 1]!;
    }
    return out;
  }

  /**
   * How this statement joins others of its kind in one multi-row statement (pg-batch.ts), or
   * undefined when it does not.
   */
  readonly shape: Shape | undefined;
}

/** A SQL literal for a value; safe whatever standard_conforming_strings says. */
export function toLiteral(v: SqlValue): string {
  if (v === null) return "NULL";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
  if (v instanceof Uint8Array)
    return `decode('${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}', 'hex')`;
  if (Array.isArray(v)) return `ARRAY[${v.map((s) => toLiteral(s)).join(",")}]::text[]`;
  // Postgres text cannot hold NUL: it would fail the whole commit, so it is replaced.
  return escapeLiteral(v.includes("\0") ? v.replaceAll("\0", "\uFFFD") : v);
}
