import assert from "node:assert/strict";
import { test } from "node:test";
import { rng } from "../../../test/helpers/seeded-rng.js";
import { decodeCbor, encodeCbor } from "./codec.js";
import { encodeFrames } from "./frame.js";
import type { Outgoing } from "./hot.js";
import { decodeHotFrame } from "./hot-decode.js";
import type { Message } from "./messages.js";
import { packPayloads } from "./packed.js";

const bytes = (...xs: number[]) => new Uint8Array(xs);
const group = (extra: Record<string, unknown> = {}) => ({
  callId: "fc-01JX8ZK3M4N5P6Q7R8S9T0",
  timeoutMs: 300_000,
  seq0: 1234,
  inputIds: ["in-1"],
  attempts: [1],
  args: [bytes(0x82, 1, 2)],
  ...extra,
});
const call = (id: number, extra: Record<string, unknown> = {}): Message =>
  ({
    t: "call.create",
    id,
    p: {
      functionId: "fn-8c1e2a9b4d7f",
      kind: "remote",
      args: bytes(1, 2),
      idempotencyKey: "k7",
      await: true,
      ...extra,
    },
  }) as unknown as Message;

/** Frames as the hot encoder writes them: every kind of tuple, edge values, each alone and together. */
function hotFrames(): Uint8Array[] {
  const sets: Outgoing[][] = [
    [call(1)],
    [call(0, { args: new Uint8Array(0), idempotencyKey: "" })],
    [call(2 ** 32 - 1, { parentInputId: "in-parent", method: "twice" })],
    [call(3, { args: new Uint8Array(300).fill(7), functionId: "x".repeat(255) })],
    [[2, 7, "fc-z", bytes(4)]],
    [[2, 65_536, "fc-y", Buffer.from([1, 2, 3])]],
    [{ t: "inputs.cols", b: { groups: [group(), group({ callId: "fc-b", method: "m", seq0: 70_000 })] } } as Message],
    [
      {
        t: "outputs.cols",
        b: { seqs: [0, 255, 256], data: [bytes(5), bytes(), bytes(6)], durationsMs: [0, 0.0213, 1e6] },
      } as Message,
    ],
    [call(9), [2, 8, "fc-q", bytes(9)], [2, 9, "fc-r", bytes()]],
  ];
  const out: Uint8Array[] = [];
  for (const s of sets) out.push(...encodeFrames(s, true));
  // Many tuples (an array head of 2 and 3 bytes).
  out.push(
    encodeFrames(
      Array.from({ length: 300 }, (_, i) => [2, i, `fc-${i}`, bytes(i & 0xff)] as Outgoing),
      true,
    )[0]!,
  );
  return out;
}

/** The codec's value, or the error it throws. */
function viaCodec(b: Uint8Array): { ok: true; v: unknown } | { ok: false } {
  try {
    return { ok: true, v: decodeCbor(b) };
  } catch {
    return { ok: false };
  }
}

/** Same value, and each byte string of the same class (a Buffer stays a Buffer) over the same memory. */
function assertSame(got: unknown, want: unknown, where: string): void {
  assert.deepStrictEqual(got, want, where);
  const walk = (a: unknown, b: unknown) => {
    if (a instanceof Uint8Array) {
      assert.equal(Object.getPrototypeOf(a), Object.getPrototypeOf(b), `${where}: byte string class`);
      assert.equal(a.buffer, (b as Uint8Array).buffer, `${where}: a view of the frame`);
      assert.equal(a.byteOffset, (b as Uint8Array).byteOffset, where);
    } else if (Array.isArray(a)) for (let i = 0; i < a.length; i++) walk(a[i], (b as unknown[])[i]);
  };
  walk(got, want);
}

test("a frame of tuples decodes to what the codec gives, as a Buffer and as a Uint8Array", () => {
  const frames = hotFrames();
  for (const [i, f] of frames.entries()) {
    for (const b of [Buffer.from(f), new Uint8Array(f), Buffer.concat([Buffer.alloc(3), f]).subarray(3)]) {
      const got = decodeHotFrame(b);
      assert.ok(got !== undefined, `frame ${i} is read directly`);
      assertSame(got, viaCodec(b).ok && (viaCodec(b) as { v: unknown }).v, `frame ${i}`);
    }
  }
});

test("anything but tuples of the hot encoder's values is left to the codec", () => {
  const left: unknown[] = [
    [{ t: "hello" }], // an object message
    [[1, 2], { t: "x" }], // tuples and an object
    {},
    "a",
    [[-1]], // a negative integer
    [[4, [1, 2], packPayloads([bytes(1), bytes(2)]), [1, 2]]], // packed payloads: a map
    [[1.5, "ü"]], // a non-ASCII string
    [[true]],
    [["x".repeat(256)]], // a string longer than the hot path's
    [[1, 2, "x".repeat(200_000)]],
    [[undefined]],
    [[new Map([[1, 2]])]],
    [[new Uint16Array(2)]], // another tag
    [[[[[1]]]]], // nested past the tuples' depth
    [[{ blob: "bl-1" }]],
    [[new Error("x")]],
  ];
  for (const v of left) assert.equal(decodeHotFrame(encodeCbor(v)), undefined, JSON.stringify(v));
  const raw: number[][] = [
    [],
    [0x81, 0x81, 0xfa, 0x3f, 0xc0, 0, 0], // a float32
    [0x81, 0x81, 0xf9, 0x3c, 0], // a float16
    [0x81, 0x81, 0x1b, 0, 0, 0, 0, 0, 0, 0, 1], // a 64-bit integer
    [0x9f, 0x81, 0x01, 0xff], // an indefinite array
    [0x81, 0x9f, 0x01, 0xff],
    [0x81, 0x81, 0x01, 0x00], // trailing bytes
    [0x81, 0x82, 0x01], // truncated
    [0x81, 0x81, 0x62, 0x61], // a string cut short
    [0x81, 0x81, 0x42, 0x61], // bytes cut short
    [0x81, 0x81, 0xd8, 0x40, 0x01], // tag 64 over an integer
    [0x81, 0x81, 0xd9, 0x00, 0x40, 0x41, 0x01], // tag 64 with a two-byte head
    [0x81, 0x81, 0xfb, 0, 0], // a float64 cut short
    [0x9a, 0xff, 0xff, 0xff, 0xff, 0x80], // a length past the frame
  ];
  for (const r of raw) assert.equal(decodeHotFrame(new Uint8Array(r)), undefined, JSON.stringify(r));
  // An empty frame is an array of no tuples, as the codec reads it.
  assert.deepStrictEqual(decodeHotFrame(new Uint8Array([0x80])), []);
});

test("under random and mutated input it reads only what the codec reads, as the codec reads it", () => {
  const frames = hotFrames();
  const next = rng(20261207);
  let read = 0;
  const cases = Math.ceil((Number(process.env.SKIFF_FUZZ_CASES) || 100_000) / 2);
  for (let i = 0; i < cases; i++) {
    const base = frames[i % frames.length]!;
    let b: Uint8Array;
    if (i % 4 === 0) {
      b = new Uint8Array(1 + Math.floor(next() * 48));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(next() * 256);
      b[0] = 0x80 | (b[0]! & 0x1f);
      if (b.length > 1) b[1] = 0x80 | (b[1]! & 0x1f);
    } else {
      // A copy (a Buffer's slice is a view: the base frames would change).
      b = Uint8Array.from(base.subarray(0, i % 3 === 0 ? 1 + Math.floor(next() * base.length) : base.length));
      const flips = 1 + Math.floor(next() * 3);
      for (let f = 0; f < flips; f++) b[Math.floor(next() * b.length)] = Math.floor(next() * 256);
    }
    const got = decodeHotFrame(b);
    if (got === undefined) continue;
    read++;
    const want = viaCodec(b);
    assert.ok(want.ok, `case ${i}: read directly, but the codec refuses ${Buffer.from(b).toString("hex")}`);
    assertSame(got, want.v, `case ${i}: ${Buffer.from(b).toString("hex")}`);
  }
  assert.ok(read > cases / 20, `only ${read} of ${cases} were read directly: the test checks little`);
});
