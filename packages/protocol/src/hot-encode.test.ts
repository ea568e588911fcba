import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeCbor, encodeCbor } from "./codec.js";
import { encodeHotFrame } from "./hot-encode.js";
import { packPayloads } from "./packed.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const ints = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 31, 2 ** 32 - 1];
const strings = [
  "",
  "a",
  "x".repeat(23),
  "x".repeat(24),
  "y".repeat(255),
  "z".repeat(256),
  "w".repeat(70_000),
  "ü",
  "in-ü𝄞",
  "é".repeat(200),
];
const bytes = [0, 1, 23, 24, 255, 256, 65535, 65536, 70_000].map((n) => new Uint8Array(n).map((_, i) => i * 7));

test("hot frames are written byte for byte as the codec writes them, edge values included", () => {
  const frames: unknown[][] = [
    [[1, 12345, "fn-8c1e2a9b4d7f", bytes[3], "k7Hq2mZ-1"]],
    [[1, 0, "fn", bytes[0], "", null, "method-ü"]],
    [[2, 2 ** 32 - 1, "fc-x", bytes[8]]],
    [[3, "fc-1", 300_000, 0, ["in-1", "in-2"], [1, 65536], [bytes[1], bytes[2]]]],
    [[4, [1, 2, 3], [bytes[4]], [0.0213, 1.5, 0, 1e6, 123456.789, Number.MIN_VALUE]]],
    [[4, Array.from({ length: 300 }, (_, i) => i), Array.from({ length: 300 }, () => bytes[1]), Array(300).fill(0.5)]],
    [ints, strings, bytes, [Buffer.from([1, 2, 3]), Buffer.alloc(0)]],
    [],
  ];
  for (const f of frames) {
    const mine = encodeHotFrame(f);
    assert.ok(mine, JSON.stringify(f).slice(0, 80));
    assert.equal(hex(mine), hex(encodeCbor(f)), JSON.stringify(f).slice(0, 80));
    assert.deepEqual(decodeCbor(Buffer.from(mine)), decodeCbor(encodeCbor(f)));
  }
});

test("a frame with anything else is left to the codec", () => {
  for (const f of [
    [[1, 1, "fn", { blob: "bl-1" }, "k"]],
    [[3, "fc", 1, 0, ["a", "b"], [1, 1], packPayloads([new Uint8Array(1), new Uint8Array(2)])]],
    [[2, -1, "fc", new Uint8Array(1)]],
    [[2, 2 ** 32, "fc", new Uint8Array(1)]],
    [[4, [1], [new Uint8Array(1)], [Number.NaN]]],
    [[4, [1], [new Uint8Array(1)], [Number.POSITIVE_INFINITY]]],
    [{ t: "reply", id: 1 }],
    [[1, 1, "fn", new Uint8Array(1), "k", undefined]],
    [[1, true]],
    [[[[["too deep"]]]]],
  ])
    assert.equal(encodeHotFrame(f), undefined, JSON.stringify(f));
});
