import { type PgStatement, type SqlValue, toLiteral } from "./pg-sql.js";

/**
 * How a group commit sends many writes as few statements. Postgres parses, plans and runs
 * each statement of a commit on its own: a burst of 2 000 spawned calls that start, end their
 * attempt, update their graph row and complete is some 12 000 one-row statements, which cost
 * the database far more than the commit's one fsync. Here the writes of a commit are sent as
 * one multi-row INSERT per statement (`INSERT … VALUES (…),(…)`) and one multi-row UPDATE per
 * statement (`UPDATE t SET … FROM (VALUES (…),(…)) AS v(…) WHERE key = v.key`), as long as
 * that gives the same result as running them one by one, in order, inside the transaction:
 *
 * - A write joins the first group of its statement that comes after every group it must
 *   stay after (one it does not commute with); with none, it starts a new group at the end.
 *   So it moves only before writes it commutes with. Writes to different
 *   tables commute (the statements that join are plain one-table INSERT/UPDATEs, no
 *   subqueries). On one table: two UPDATEs commute when neither sets a column the other sets
 *   or reads, or when they are keyed by the same columns and touch different keys; an INSERT
 *   and an UPDATE commute when the UPDATE's key is not the inserted row's; two INSERTs of
 *   different statements into one table are taken not to.
 * - An UPDATE (or upsert) stays after a group of its statement that has its key: a multi-row
 *   UPDATE would apply only one of two rows for the same key, an upsert would fail.
 * - Any other write (a DELETE, a write whose result is wanted) ends the run: the groups are
 *   sent, then it, in order.
 */

/** The form of a statement that can join others of its kind in one statement. */
export type Shape = InsertShape | UpdateShape;

export interface InsertShape {
  kind: "insert";
  table: string;
  columns: string[];
  /** Per column: the parameter its value is, or the constant SQL text written there. */
  items: ({ param: string } | { sql: string })[];
  /** `ON CONFLICT (cols) DO UPDATE`: those columns (two rows of one key cannot share a statement). */
  conflictKey: string[] | undefined;
  /** The statement's text before and after its row (no parameters there). */
  headSql: string;
  tailSql: string;
  /** Its row's text: the items, parameters written as literals. */
}

export interface UpdateShape {
  kind: "update";
  table: string;
  /** Columns set, and columns read (the WHERE's, and any named on the right of a SET). */
  sets: Set<string>;
  reads: Set<string>;
  /** WHERE col = @param AND …: the key columns and their parameters. */
  keyColumns: string[];
  keyParams: string[];
  /** Parameters in the order of the VALUES tuple (the statement's $n order). */
  params: string[];
  /** The statement with `@p` written as `v.pN`, split at FROM/WHERE for the VALUES list. */
  setSql: string;
  whereSql: string;
  /** Postgres types of the parameters, as Postgres infers them (learnt at open: `types`). */
  types: string[] | undefined;
}

/** Splits at commas outside parentheses and quotes. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(s.slice(start).trim());
  return out;
}

/** The batch shape of a statement (text with @params, no trailing ";"), or undefined. */
export function shapeOf(sql: string, params: string[]): Shape | undefined {
  if (/\bSELECT\b/i.test(sql)) return undefined;
  const ins =
    /^INSERT INTO (\w+) \(([^)]*)\) VALUES \(([^;]*?)\)(\s+ON CONFLICT (?:DO NOTHING|\(([\w, ]+)\) DO UPDATE SET [^;@]*))?$/s.exec(
      sql,
    );
  if (ins) {
    const columns = ins[2]!.split(",").map((c) => c.trim());
    const items = splitTop(ins[3]!).map((it) => {
      const p = /^@([A-Za-z]\w*)$/.exec(it);
      return p ? { param: p[1]! } : { sql: it };
    });
    if (items.length !== columns.length || params.length === 0 || /\(|\)/.test(ins[3]!.replace(/'[^']*'/g, "")))
      return undefined;
    const tail = ins[4] ?? "";
    return {
      kind: "insert",
      table: ins[1]!,
      columns,
      items,
      conflictKey: ins[5]?.split(",").map((c) => c.trim()),
      headSql: sql.slice(0, sql.indexOf(" VALUES (") + " VALUES ".length),
      tailSql: tail,
    };
  }
  const up = /^UPDATE (\w+) SET (.+) WHERE (\w+ = @\w+(?:\s+AND\s+\w+ = @\w+)*)$/s.exec(sql);
  if (!up) return undefined;
  const sets = new Set<string>();
  const reads = new Set<string>();
  const v = (s: string) => s.replace(/@([A-Za-z]\w*)/g, (_m, n: string) => `v.p${params.indexOf(n) + 1}`);
  const assignments: string[] = [];
  for (const a of splitTop(up[2]!)) {
    const m = /^(\w+)\s*=\s*(.+)$/s.exec(a);
    if (!m) return undefined;
    sets.add(m[1]!);
    // Every bare word on the right (column names, and harmlessly function names and keywords).
    for (const w of m[2]!.replace(/'[^']*'/g, "").matchAll(/(?<![@\w.])([a-z_]\w*)/gi)) reads.add(w[1]!);
    assignments.push(`${m[1]} = ${v(m[2]!)}`);
  }
  const keyColumns: string[] = [];
  const keyParams: string[] = [];
  for (const m of up[3]!.matchAll(/(\w+) = @(\w+)/g)) {
    keyColumns.push(m[1]!);
    keyParams.push(m[2]!);
    reads.add(m[1]!);
  }
  return {
    kind: "update",
    table: up[1]!,
    sets,
    reads,
    keyColumns,
    keyParams,
    params,
    setSql: `UPDATE ${up[1]} SET ${assignments.join(", ")}`,
    whereSql: v(up[3]!),
    types: undefined,
  };
}

/** A queued write as the batcher sees it. */
export interface BatchOp {
  statement: PgStatement;
  params: Record<string, SqlValue>;
  /** Set when its result is wanted: it runs as its own statement. */
  wantsResult: boolean;
  /** opText(): its row, when it can join others (`joins`), else its statement. */
  text: string;
  joins: boolean;
}

/** Whether a write can join others of its statement. */
export function joinable(st: PgStatement, wantsResult: boolean): boolean {
  const shape = st.shape;
  return !wantsResult && shape !== undefined && (shape.kind === "insert" || shape.types !== undefined);
}

/**
 * What a write queues: the row it adds to a joined statement (made once, at write time: the
 * full statement is never written out for a write that joins), or else its statement.
 */
export function opText(st: PgStatement, params: Record<string, SqlValue>, joins: boolean): string {
  const shape = st.shape;
  if (!joins || !shape) return st.literal(params);
  if (shape.kind === "insert")
    return `(${shape.items.map((it) => ("param" in it ? toLiteral(param(st, params, it.param)) : it.sql)).join(", ")})`;
  const types = shape.types!;
  return `(${shape.params.map((p, i) => `${toLiteral(param(st, params, p))}::${types[i]}`).join(",")})`;
}

function param(st: PgStatement, params: Record<string, SqlValue>, name: string): SqlValue {
  const v = params[name];
  if (v === undefined) throw new Error(`${st.name}: no value for @${name}`);
  return v;
}

/** A value as a key part: equal values, equal parts (a collision only joins less). */
function keyPart(v: SqlValue | undefined): string {
  if (v === null || v === undefined) return "\0null";
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
  return Array.isArray(v) ? v.join("\0") : String(v);
}

interface Group {
  st: PgStatement;
  shape: Shape;
  ops: BatchOp[];
  /** Update/upsert: the keys in it. */
  keys: Set<string>;
  /** Insert: the rows' values of some columns, by column list, filled on demand. */
  byColumns: Map<string, Set<string>>;
}

/** The parameter an insert sets `column` from; undefined for a constant or a default. */
function paramOf(shape: InsertShape, column: string): string | undefined {
  const item = shape.items[shape.columns.indexOf(column)];
  return item && "param" in item ? item.param : undefined;
}

/** An inserted row's values of `columns`; undefined when one is not a parameter (matches anything). */
function rowKey(op: BatchOp, shape: InsertShape, columns: string[]): string | undefined {
  let out = "";
  for (const c of columns) {
    const p = paramOf(shape, c);
    if (p === undefined) return undefined;
    out += `${keyPart(op.params[p])}\u0001`;
  }
  return out;
}

function updateKey(op: BatchOp, shape: UpdateShape): string {
  let out = "";
  for (const p of shape.keyParams) out += `${keyPart(op.params[p])}\u0001`;
  return out;
}

function ownKey(op: BatchOp, shape: Shape): string | undefined {
  if (shape.kind === "update") return updateKey(op, shape);
  // An upsert's conflict columns are parameters (or it would conflict with itself).
  return shape.conflictKey ? (rowKey(op, shape, shape.conflictKey) ?? "\0const") : undefined;
}

/** The rows' values of `columns` in an insert group; undefined when a row's are not all parameters. */
function insertKeys(g: Group, columns: string[]): Set<string> | undefined {
  const shape = g.shape as InsertShape;
  if (columns.some((c) => paramOf(shape, c) === undefined)) return undefined;
  const sig = columns.join(",");
  let set = g.byColumns.get(sig);
  if (!set) {
    set = new Set(g.ops.map((o) => rowKey(o, shape, columns)!));
    g.byColumns.set(sig, set);
  }
  return set;
}

const overlap = (a: Set<string>, b: Set<string>) => {
  for (const x of a) if (b.has(x)) return true;
  return false;
};
/** Whether two UPDATE shapes touch columns the other sets (worked out once per pair). */
const touching = new WeakMap<UpdateShape, Map<UpdateShape, boolean>>();
function columnsTouch(s: UpdateShape, t: UpdateShape): boolean {
  let m = touching.get(s);
  if (!m) {
    m = new Map();
    touching.set(s, m);
  }
  let v = m.get(t);
  if (v === undefined) {
    v = overlap(s.sets, t.sets) || overlap(s.sets, t.reads) || overlap(t.sets, s.reads);
    m.set(t, v);
  }
  return v;
}

/** Whether `op` (of shape `s`, own key `key`) may not move before the writes of group `h`. */
function conflicts(op: BatchOp, s: Shape, key: string | undefined, h: Group): boolean {
  if (h.st === op.statement) return key !== undefined && h.keys.has(key);
  const t = h.shape;
  if (s.table !== t.table) return false;
  if (s.kind === "update" && t.kind === "update") {
    if (!columnsTouch(s, t)) return false;
    return s.keyColumns.join(",") !== t.keyColumns.join(",") || h.keys.has(key!);
  }
  if (s.kind === "update" && t.kind === "insert") return insertKeys(h, s.keyColumns)?.has(key!) ?? true;
  if (s.kind === "insert" && t.kind === "update") {
    const k = rowKey(op, s, t.keyColumns);
    return k === undefined || h.keys.has(k);
  }
  return true;
}

function addTo(g: Group, op: BatchOp, k: string | undefined): void {
  g.ops.push(op);
  if (k !== undefined) g.keys.add(k);
  if (g.shape.kind === "insert") for (const [sig, set] of g.byColumns) set.add(rowKey(op, g.shape, sig.split(","))!);
}

/** The statement text of a group. */
function groupSql(g: Group): string {
  const shape = g.shape;
  const rows = g.ops.map((o) => o.text).join(",");
  if (shape.kind === "insert") return shape.headSql + rows + shape.tailSql;
  if (g.ops.length === 1) return g.st.literal(g.ops[0]!.params);
  const cols = shape.params.map((_, i) => `p${i + 1}`).join(",");
  return `${shape.setSql} FROM (VALUES ${rows}) AS v(${cols}) WHERE ${shape.whereSql}`;
}

/**
 * The text of a group commit, and for each of its statements the op whose result it is
 * (undefined for a joined statement).
 */
export function batchText<T extends BatchOp>(ops: T[]): { sql: string; owners: (T | undefined)[] } {
  const parts: string[] = [];
  const owners: (T | undefined)[] = [];
  let run: Group[] = [];
  /** Per statement, the indexes of its groups in `run`, ascending. */
  const groupsOf = new Map<PgStatement, number[]>();
  const endRun = () => {
    for (const g of run) {
      parts.push(groupSql(g));
      owners.push(undefined);
    }
    run = [];
    groupsOf.clear();
  };
  for (const op of ops) {
    const shape = op.statement.shape;
    if (!op.joins || !shape) {
      endRun();
      parts.push(op.text);
      owners.push(op);
      continue;
    }
    const key = ownKey(op, shape);
    // The latest group it must stay after; it joins the first group of its statement past it.
    let after = -1;
    for (let i = run.length - 1; i >= 0; i--)
      if (conflicts(op, shape, key, run[i]!)) {
        after = i;
        break;
      }
    const mine = groupsOf.get(op.statement);
    const at = mine?.find((i) => i > after);
    if (at !== undefined) addTo(run[at]!, op, key);
    else {
      const g: Group = { st: op.statement, shape, ops: [], keys: new Set(), byColumns: new Map() };
      addTo(g, op, key);
      run.push(g);
      if (mine) mine.push(run.length - 1);
      else groupsOf.set(op.statement, [run.length - 1]);
    }
  }
  endRun();
  return { sql: parts.join(";\n"), owners };
}
