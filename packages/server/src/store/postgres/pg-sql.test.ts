import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { joinRows, PgStatement, toLiteral } from "./pg-sql.js";

describe("PgStatement", () => {
  const insert = new PgStatement("insertInput", "INSERT INTO inputs (id, args, state) VALUES (@id, @args, 'pending');");
  const ignore = new PgStatement("insertGraph", "INSERT INTO graph (id, at) VALUES (@id, @at) ON CONFLICT DO NOTHING;");

  it("numbers parameters for reads and writes literals for group commits", () => {
    assert.equal(insert.text, "INSERT INTO inputs (id, args, state) VALUES ($1, $2, 'pending')");
    assert.equal(
      insert.literal({ id: "in-1", args: new Uint8Array([1, 255]) }),
      "INSERT INTO inputs (id, args, state) VALUES ('in-1', decode('01ff', 'hex'), 'pending')",
    );
    assert.equal(toLiteral("it's\0"), "'it''s\uFFFD'");
  });

  it("joins one-row inserts of a statement into one multi-row insert, rows in order", () => {
    const rows = [
      { statement: "insertInput", sql: insert.literal({ id: "a", args: new Uint8Array([1]) }), span: insert.rowSpan! },
      { statement: "insertGraph", sql: ignore.literal({ id: "g", at: 5 }), span: ignore.rowSpan! },
      { statement: "insertInput", sql: insert.literal({ id: "b", args: new Uint8Array([2]) }), span: insert.rowSpan! },
    ];
    assert.deepEqual(joinRows(rows), [
      "INSERT INTO inputs (id, args, state) VALUES ('a', decode('01', 'hex'), 'pending'),('b', decode('02', 'hex'), 'pending')",
      "INSERT INTO graph (id, at) VALUES ('g', 5) ON CONFLICT DO NOTHING",
    ]);
  });

  it("joins no other statement", () => {
    for (const sql of [
      "UPDATE calls SET state = @state WHERE id = @id",
      "INSERT INTO functions (id, name) VALUES (@id, @name) ON CONFLICT (app_id, name) DO UPDATE SET name = excluded.name",
      "DELETE FROM calls WHERE id = @id",
      "INSERT INTO t (a) SELECT @a",
    ])
      assert.equal(new PgStatement("s", sql).rowSpan, undefined, sql);
  });
});
