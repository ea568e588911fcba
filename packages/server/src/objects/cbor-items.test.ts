import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeCbor, encodeCbor } from "@skiff/protocol";
import { arrayHeader, checkItem, itemEnd, splitItems } from "./cbor-items.js";

/** Values of every kind a payload may hold, as the SDK encodes them. */
const VALUES: unknown[] = [
  0,
  -1,
  23,
  24,
  255,
  65_536,
  2 ** 40,
  -(2 ** 40),
  1.5,
  Number.NaN,
  2n ** 70n,
  -(2n ** 70n),
  "",
  "é".repeat(300),
  true,
  null,
  undefined,
  new Uint8Array(70_000).fill(7),
  new Float64Array([1, 2]),
  { a: { b: [1, { c: "d" }] } },
  new Map<unknown, unknown>([
    [1, "x"],
    ["k", new Set([1, 2])],
  ]),
  new Date(5),
  /re/g,
  new Error("boom", { cause: 1 }),
  Array.from({ length: 300 }, (_, i) => i),
];

describe("cbor-items", () => {
  it("splits an encoded list where each item's own encoding ends", () => {
    const bytes = encodeCbor(VALUES);
    const split = splitItems(bytes);
    assert.ok(typeof split !== "string", String(split));
    assert.equal(split.ends.length, VALUES.length);
    let at = split.start;
    for (const [i, end] of split.ends.entries()) {
      assert.deepEqual(bytes.subarray(at, end), encodeCbor(VALUES[i]), `item ${i}`);
      assert.equal(checkItem(bytes.subarray(at, end), i), undefined);
      at = end;
    }
  });

  it("an array header and items back to back decode as the list", () => {
    for (const n of [0, 1, 23, 24, 255, 256, 65_535, 65_536]) {
      const items = Array.from({ length: n }, (_, i) => encodeCbor(VALUES[i % VALUES.length]));
      const bytes = Buffer.concat([arrayHeader(n), ...items]);
      const list = decodeCbor(bytes) as unknown[];
      assert.equal(list.length, n);
      const split = splitItems(bytes);
      assert.ok(typeof split !== "string" && split.ends.length === n, `n = ${n}`);
    }
  });

  it("refuses what is not exactly one well-formed item, and tags that refer to other items", () => {
    const cases: [number[], string][] = [
      [[], "malformed"],
      [[0x82, 0x01], "malformed"], // cut short
      [[0x18], "malformed"], // argument cut short
      [[0x5a, 0xff, 0xff, 0xff, 0xff], "malformed"], // a length past the end
      [[0x1c], "malformed"], // reserved additional information
      [[0xff], "malformed"], // a break outside an indefinite container
      [[0x81, 0xff], "malformed"],
      [[0x9f, 0xc1, 0xff], "malformed"], // a tag whose content would be the break
      [[0x5f, 0x41, 0x00, 0xff], "malformed"], // an indefinite byte string (cbor-x refuses them)
      [[0xd8, 0x1c, 0x01], "stateful-tag"], // 28: shared value
      [[0xd8, 0x1d, 0x00], "stateful-tag"], // 29: shared reference
      [[0xd8, 0x33, 0x80], "stateful-tag"], // 51: packed values
      [[0xd9, 0xdf, 0xff, 0x80], "stateful-tag"], // a cbor-x record definition
    ];
    for (const [bytes, fault] of cases)
      assert.equal(itemEnd(Uint8Array.from(bytes), 0, bytes.length), fault, JSON.stringify(bytes));
    // Indefinite arrays and maps are fine, nested, with their breaks.
    const indef = Uint8Array.of(0x9f, 0x01, 0xbf, 0x61, 0x61, 0x9f, 0xff, 0xff, 0xff);
    assert.equal(itemEnd(indef, 0, indef.length), indef.length);
    assert.deepEqual(decodeCbor(indef), [1, { a: [] }]);
    assert.match(checkItem(Uint8Array.of(0x01, 0x02), 3)!, /values\[3\] holds more than one CBOR data item/);
    assert.match(splitItems(Uint8Array.of(0x82, 0x01)) as string, /cut short/);
    assert.match(splitItems(Uint8Array.of(0x81, 0x01, 0x02)) as string, /1 bytes after its 1 items/);
    assert.match(splitItems(encodeCbor({ a: 1 })) as string, /must be a CBOR array/);
  });
});
