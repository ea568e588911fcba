import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toJsonValue } from "./json-value.js";

describe("results as JSON", () => {
  it("converts what JSON cannot hold, as docs/web.md says", () => {
    const err = new TypeError("bad");
    assert.deepEqual(
      toJsonValue({
        big: 2n ** 70n,
        map: new Map<unknown, unknown>([
          ["a", 1],
          [2, new Set([3])],
        ]),
        bytes: new Uint8Array([1, 2, 3]),
        floats: new Float64Array([1.5]),
        when: new Date(0),
        re: /x+/g,
        nothing: undefined,
        err,
        inf: Number.POSITIVE_INFINITY,
      }),
      {
        big: "1180591620717411303424",
        map: { a: 1, 2: [3] },
        bytes: "AQID",
        floats: [1.5],
        when: "1970-01-01T00:00:00.000Z",
        re: "/x+/g",
        nothing: null,
        err: { name: "TypeError", message: "bad" },
        inf: "Infinity",
      },
    );
  });
});
