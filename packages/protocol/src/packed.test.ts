import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeCbor, encodeCbor } from "./codec.js";
import type { Payload } from "./messages.js";
import { packPayloads, unpackPayloads } from "./packed.js";

test("inline payloads packed travel as one byte string and come back as they were", () => {
  const list: Payload[] = [encodeCbor([1]), new Uint8Array(0), encodeCbor(["two", { three: 3 }]), encodeCbor(4)];
  const packed = packPayloads(list);
  assert.ok(!Array.isArray(packed), "all inline: packed");
  // Through the wire codec, as a frame carries it.
  const col = (decodeCbor(encodeCbor({ args: packed })) as { args: unknown }).args;
  const got = unpackPayloads(col, list.length);
  assert.ok(got);
  assert.deepEqual(
    got.map((p) => [...(p as Uint8Array)]),
    list.map((p) => [...(p as Uint8Array)]),
  );
  assert.deepEqual(decodeCbor(got[2] as Uint8Array), ["two", { three: 3 }]);
});

test("a column with a blob reference, or of one payload, is sent as a list", () => {
  const withBlob: Payload[] = [encodeCbor(1), { blob: "sha256-x" }];
  assert.equal(packPayloads(withBlob), withBlob);
  const one: Payload[] = [encodeCbor(1)];
  assert.equal(packPayloads(one), one);
  assert.equal(unpackPayloads(withBlob, 2), withBlob);
  assert.equal(unpackPayloads(withBlob, 3), undefined, "a list of another length");
});

test("a packed column whose lengths do not fit its bytes is refused", () => {
  const bytes = new Uint8Array([1, 2, 3, 4]);
  for (const lens of [
    [1, 2],
    [1, 2, 2],
    [-1, 5],
    [1.5, 2.5],
    ["1", "3"],
    [5, -1],
  ]) {
    assert.equal(unpackPayloads({ bytes, lens }, lens.length), undefined, JSON.stringify(lens));
  }
  assert.equal(unpackPayloads({ bytes, lens: [1, 3] }, 3), undefined, "count differs");
  assert.equal(unpackPayloads({ bytes: [1, 2], lens: [2] }, 1), undefined, "bytes not a byte string");
  assert.equal(unpackPayloads(null, 0), undefined);
  assert.equal(unpackPayloads("x", 0), undefined);
  assert.deepEqual(
    unpackPayloads({ bytes, lens: [1, 0, 3] }, 3)?.map((p) => (p as Uint8Array).byteLength),
    [1, 0, 3],
  );
});
