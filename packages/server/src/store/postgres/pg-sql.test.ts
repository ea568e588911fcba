import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PgStatement, toLiteral } from "./pg-sql.js";

describe("PgStatement", () => {
  const insert = new PgStatement("insertInput", "INSERT INTO inputs (id, args, state) VALUES (@id, @args, 'pending');");

  it("numbers parameters for reads and writes literals for group commits", () => {
    assert.equal(insert.text, "INSERT INTO inputs (id, args, state) VALUES ($1, $2, 'pending')");
    assert.equal(
      insert.literal({ id: "in-1", args: new Uint8Array([1, 255]) }),
      "INSERT INTO inputs (id, args, state) VALUES ('in-1', decode('01ff', 'hex'), 'pending')",
    );
    assert.equal(toLiteral("it's\0"), "'it''s\uFFFD'");
  });
});
