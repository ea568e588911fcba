import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BatchOp, batchText, joinable, opText } from "./pg-batch.js";
import { PgStatement, type SqlValue } from "./pg-sql.js";

const insert = new PgStatement(
  "insertInput",
  "INSERT INTO inputs (id, call_id, args, state) VALUES (@id, @callId, @args, 'pending');",
);
const ignore = new PgStatement("insertGraph", "INSERT INTO graph (id, at) VALUES (@id, @at) ON CONFLICT DO NOTHING;");
const upsert = new PgStatement(
  "upsertAttempt",
  "INSERT INTO attempts (input_id, attempt, status) VALUES (@inputId, @attempt, 'running')\nON CONFLICT (input_id, attempt) DO UPDATE SET status = 'running', ended_at = NULL;",
);
const setState = new PgStatement("setState", "UPDATE inputs SET state = @state, attempt = @attempt WHERE id = @id;");
const release = new PgStatement("release", "UPDATE inputs SET blob_id = NULL WHERE call_id = @callId;");
const graph = new PgStatement(
  "graph",
  "UPDATE graph SET task_id = coalesce(@taskId, task_id), status = @status WHERE id = @id",
);
const del = new PgStatement("del", "DELETE FROM inputs WHERE id = @id");
for (const st of [setState, graph])
  if (st.shape?.kind === "update")
    st.shape.types = st === graph ? ["text", "text", "text"] : ["text", "integer", "text"];
if (release.shape?.kind === "update") release.shape.types = ["text"];

const op = (statement: PgStatement, params: Record<string, SqlValue>): BatchOp => {
  const joins = joinable(statement, false);
  return { statement, params, wantsResult: false, joins, text: opText(statement, params, joins) };
};
const text = (ops: BatchOp[]) => batchText(ops).sql.split(";\n");

describe("group commit batching", () => {
  it("joins one-row inserts of a statement into one multi-row insert, rows in order", () => {
    assert.deepEqual(
      text([
        op(insert, { id: "a", callId: "c", args: new Uint8Array([1]) }),
        op(ignore, { id: "g", at: 5 }),
        op(insert, { id: "b", callId: "c", args: new Uint8Array([2]) }),
      ]),
      [
        "INSERT INTO inputs (id, call_id, args, state) VALUES ('a', 'c', decode('01', 'hex'), 'pending'),('b', 'c', decode('02', 'hex'), 'pending')",
        "INSERT INTO graph (id, at) VALUES ('g', 5) ON CONFLICT DO NOTHING",
      ],
    );
  });

  it("joins keyed updates into one UPDATE … FROM (VALUES …), typed, other columns kept", () => {
    assert.deepEqual(
      text([
        op(graph, { id: "g1", taskId: "t", status: "pending" }),
        op(graph, { id: "g2", taskId: null, status: "success" }),
      ]),
      [
        "UPDATE graph SET task_id = coalesce(v.p1, task_id), status = v.p2 FROM (VALUES ('t'::text,'pending'::text,'g1'::text),(NULL::text,'success'::text,'g2'::text)) AS v(p1,p2,p3) WHERE id = v.p3",
      ],
    );
  });

  it("a key already in a group goes to a later group: the first one past the last that has it", () => {
    const t = text([
      op(graph, { id: "g1", taskId: "t", status: "pending" }),
      op(graph, { id: "g2", taskId: "u", status: "pending" }),
      op(graph, { id: "g1", taskId: null, status: "success" }),
    ]);
    assert.equal(t.length, 2);
    assert.match(t[0]!, /'g1'.*'g2'/);
    assert.match(t[1]!, /^UPDATE graph SET .* WHERE id = 'g1'$/); // a group of one: the statement itself
    const u = text([op(upsert, { inputId: "i", attempt: 1 }), op(upsert, { inputId: "i", attempt: 1 })]);
    assert.equal(u.length, 2, "an upsert of one key twice cannot share a statement");
    // A call's graph row set twice (running, then done), call after call: two statements, not one per call.
    const calls = [];
    for (let i = 0; i < 50; i++)
      calls.push(
        op(graph, { id: `g${i}`, taskId: "t", status: "pending" }),
        op(graph, { id: `g${i}`, taskId: null, status: "success" }),
      );
    const two = text(calls);
    assert.equal(two.length, 2);
    assert.match(two[0]!, /^UPDATE graph .*'pending'/);
    assert.doesNotMatch(two[0]!, /'success'/);
  });

  it("an insert does not move before an update of the row it inserts", () => {
    // release(c) then insert of an input of c: the insert must stay after (its blob released).
    const t = text([
      op(insert, { id: "a", callId: "c", args: new Uint8Array([1]) }),
      op(release, { callId: "c" }),
      op(insert, { id: "b", callId: "c", args: new Uint8Array([2]) }),
      op(insert, { id: "x", callId: "other", args: new Uint8Array([3]) }),
    ]);
    assert.equal(t.length, 3);
    assert.match(t[0]!, /VALUES \('a'.*\),\('x'/); // "x" touches no released call: it joins the first group
    assert.doesNotMatch(t[0]!, /'b'/);
    assert.match(t[1]!, /^UPDATE inputs SET blob_id = NULL WHERE call_id = 'c'$/);
    assert.match(t[2]!, /VALUES \('b'[\s\S]*'pending'\)$/);
  });

  it("updates of one table that set different columns move past each other; overlapping ones by key only", () => {
    const t = text([
      op(setState, { id: "a", state: "done", attempt: 1 }),
      op(release, { callId: "c1" }),
      op(setState, { id: "b", state: "done", attempt: 1 }),
      op(release, { callId: "c2" }),
    ]);
    assert.equal(t.length, 2);
  });

  it("any other write ends the run, in order", () => {
    const t = text([
      op(setState, { id: "a", state: "done", attempt: 1 }),
      op(del, { id: "a" }),
      op(setState, { id: "b", state: "done", attempt: 1 }),
    ]);
    assert.equal(t.length, 3);
    assert.match(t[1]!, /^DELETE/);
  });

  it("joins no statement of another form", () => {
    for (const sql of [
      "UPDATE tokens SET revoked_at = @at WHERE id = @id AND revoked_at IS NULL",
      "DELETE FROM calls WHERE id = @id",
      "INSERT INTO t (a) SELECT @a",
      "UPDATE t SET a = (SELECT max(b) FROM u) WHERE id = @id",
    ])
      assert.equal(new PgStatement("s", sql).shape, undefined, sql);
  });
});
