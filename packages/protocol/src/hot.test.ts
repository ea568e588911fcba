import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeCbor, encodeCbor } from "./codec.js";
import { decodeFrame, encodeFrames, ProtocolError } from "./frame.js";
import { agreeHot, HOT_FRAMES_VERSION, hotOutcome, type Outgoing } from "./hot.js";
import type { Message } from "./messages.js";
import { packPayloads } from "./packed.js";

const bytes = (...xs: number[]) => new Uint8Array(xs);
const call = (id: number, p: Record<string, unknown>): Message => ({ t: "call.create", id, p }) as unknown as Message;
const remote = (extra: Record<string, unknown> = {}) => ({
  functionId: "fn-8c1e2a9b4d7f",
  kind: "remote",
  args: encodeCbor([1, "ü"]),
  idempotencyKey: "k7Hq2mZ-1",
  await: true,
  ...extra,
});
const outcome = (id: number, callId: string, data: Uint8Array): Message => ({
  t: "reply",
  id,
  ok: true,
  r: { callId, outcome: { kind: "result", result: { status: "success", data } } },
});
const group = (extra: Record<string, unknown> = {}) => ({
  callId: "fc-01JX8ZK3M4N5P6Q7R8S9T0",
  timeoutMs: 300_000,
  seq0: 1234,
  inputIds: ["in-1"],
  attempts: [1],
  args: [bytes(0x82, 1, 2)],
  ...extra,
});

/** The hot messages with edge values: what a frame of tuples must give back as it was. */
const hotMessages = (): Message[] => [
  call(1, remote()),
  call(0, remote({ args: new Uint8Array(0), idempotencyKey: "" })),
  call(2 ** 31, remote({ args: { blob: "bl-abc" } })),
  call(3, remote({ parentInputId: "in-parent" })),
  call(4, remote({ method: "twice" })),
  call(5, remote({ parentInputId: "in-p", method: "ümlaut-method" })),
  call(Number.MAX_SAFE_INTEGER, remote({ args: new Uint8Array(70_000).fill(9) })),
  outcome(1, "fc-x", bytes(0x03)),
  outcome(0, "", new Uint8Array(0)),
  { t: "inputs.cols", b: { groups: [group()] } } as Message,
  { t: "inputs.cols", b: { groups: [group({ seq0: 0, timeoutMs: 0, method: "m" })] } } as Message,
  {
    t: "inputs.cols",
    b: {
      groups: [
        group({
          seq0: Number.MAX_SAFE_INTEGER - 2,
          inputIds: ["a", "b", "c"],
          attempts: [1, 2, 100],
          args: packPayloads([bytes(1), new Uint8Array(0), bytes(2, 3)]),
        }),
      ],
    },
  } as Message,
  { t: "inputs.cols", b: { groups: [group({ args: [{ blob: "bl-big" }] })] } } as Message,
  { t: "outputs.cols", b: { seqs: [0], data: [bytes(5)], durationsMs: [0] } } as Message,
  {
    t: "outputs.cols",
    b: {
      seqs: [1, 2 ** 40],
      data: packPayloads([bytes(1), bytes(2)]),
      durationsMs: [0.0213, 1e6],
    },
  } as Message,
  { t: "outputs.cols", b: { seqs: [7], data: [{ blob: "bl-out" }], durationsMs: [3.5] } } as Message,
  { t: "web.answer", b: { seq: 0, item: bytes(0xa1, 0x61, 0x78, 1), durationMs: 0.0417 } } as Message,
  { t: "web.answer", b: { seq: 2 ** 32 + 5, item: new Uint8Array(0), durationMs: 0 } } as Message,
];

/** As the server sends them: a call's reply made a tuple where it can be (its peer's `answer`). */
const asSent = (msgs: Message[]): Outgoing[] =>
  msgs.map((m) => (m.t === "reply" && m.ok ? (hotOutcome(m.id, m.r) ?? m) : m));

/** Byte arrays as plain lists (a decoded one may be a Buffer view), for deepEqual. */
const plain = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return { u8: [...v] };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
};

test("the hot messages go as tuples and come back as the messages they were, edge values included", () => {
  const msgs = hotMessages();
  const frames = encodeFrames(asSent(msgs), true);
  assert.equal(frames.length, 1);
  const raw = decodeCbor(frames[0]!) as unknown[];
  assert.ok(
    raw.every((m) => Array.isArray(m)),
    "every one of them is a tuple on the wire",
  );
  assert.deepEqual(plain(decodeFrame(frames[0]!, true)), plain(msgs));
  // Smaller than the same as objects (but for the one large payload).
  const small = msgs.filter((_, i) => i !== 6);
  const size = (hot: boolean) => encodeFrames(hot ? asSent(small) : small, hot)[0]!.byteLength;
  assert.ok(size(true) < size(false) * 0.6, `${size(true)} vs ${size(false)} bytes`);
});

test("a group per tuple: inputs.cols of several calls comes back as several messages, in order", () => {
  const m = { t: "inputs.cols", b: { groups: [group({ callId: "fc-a" }), group({ callId: "fc-b", seq0: 1235 })] } };
  const got = decodeFrame(encodeFrames([m as Message], true)[0]!, true);
  assert.deepEqual(
    plain(got),
    plain([
      { t: "inputs.cols", b: { groups: [group({ callId: "fc-a" })] } },
      { t: "inputs.cols", b: { groups: [group({ callId: "fc-b", seq0: 1235 })] } },
    ]),
  );
});

test("only the hot path's shapes become tuples; everything else, and everything without hot, stays an object", () => {
  const others: Message[] = [
    call(1, remote({ kind: "spawn", await: false })),
    call(2, remote({ await: false })),
    { t: "reply", id: 3, ok: true, r: { callId: "fc-x" } },
    { t: "outputs", b: { items: [] } } as Message,
    { t: "call.get", id: 4, p: { callId: "fc-x" } } as Message,
  ];
  const raw = decodeCbor(encodeFrames(others, true)[0]!) as unknown[];
  assert.ok(raw.every((m) => !Array.isArray(m)));
  const all = [...hotMessages(), ...others];
  const cold = encodeFrames(all, false)[0]!;
  assert.ok((decodeCbor(cold) as unknown[]).every((m) => !Array.isArray(m)));
  assert.deepEqual(plain(decodeFrame(cold)), plain(all));
  // Mixed in one frame, in order.
  assert.deepEqual(plain(decodeFrame(encodeFrames(asSent(all), true)[0]!, true)), plain(all));
});

test("hotOutcome: only an inline success of a call becomes a tuple", () => {
  assert.deepEqual(
    plain(hotOutcome(9, (outcome(9, "fc-y", bytes(1)) as { r: unknown }).r)),
    plain([2, 9, "fc-y", bytes(1)]),
  );
  const blob = { callId: "fc", outcome: { kind: "result", result: { status: "success", data: { blob: "bl-1" } } } };
  const failure = { callId: "fc", outcome: { kind: "result", result: { status: "failure", error: bytes(1) } } };
  for (const r of [blob, failure, { callId: "fc", outcome: { kind: "cancelled" } }, { callId: "fc" }, undefined, {}])
    assert.equal(hotOutcome(1, r), undefined);
});

test("a peer that did not agree on tuples refuses them, as one from before them does", () => {
  const frame = encodeFrames([call(1, remote())], true)[0]!;
  assert.throws(
    () => decodeFrame(frame),
    (e) => e instanceof ProtocolError && /must be an object/.test(e.message),
  );
});

test("malformed tuples are refused with a ProtocolError saying which", () => {
  const bad: [unknown[], RegExp][] = [
    [[99, 1], /unknown tuple 99/],
    [["call", 1], /unknown tuple call/],
    [[1, "1", "fn", bytes(), "k"], /call tuple needs/],
    [[1, 1, "fn", "not bytes", "k"], /call tuple needs/],
    [[1, 1, "fn", bytes(), "k", 5], /parentInputId and method must be strings/],
    [[1, 1, "fn", bytes(), "k", null, 7], /parentInputId and method must be strings/],
    [[1, 1, "fn", bytes(), "k", null, "m", "extra"], /call tuple needs/],
    [[2, 1, "fc", { blob: "bl-1" }], /outcome tuple needs/],
    [[2, 1, "fc"], /outcome tuple needs/],
    [[3, "fc", 1, 0, ["a"], [1]], /inputs tuple needs/],
    [[3, "fc", "1", 0, ["a"], [1], []], /inputs tuple needs/],
    [[3, "fc", 1, 0, "a", [1], []], /inputs tuple needs/],
    [[4, [1], null, [1]], /outputs tuple needs/],
    [[4, 1, [bytes()], [1]], /outputs tuple needs/],
    [[4, [1], [bytes()], [1], "extra"], /outputs tuple needs/],
    [[2, 1, "fc", bytes(), "extra"], /outcome tuple needs/],
    [[5, 1, { blob: "bl-1" }, 0.5], /web answer tuple needs/],
    [[5, "1", bytes(), 0.5], /web answer tuple needs/],
    [[5, 1, bytes()], /web answer tuple needs/],
    [[5, 1, bytes(), 0.5, "extra"], /web answer tuple needs/],
  ];
  for (const [tuple, why] of bad) {
    const frame = encodeCbor([tuple]);
    assert.throws(
      () => decodeFrame(frame, true),
      (e) => e instanceof ProtocolError && why.test(e.message),
      JSON.stringify(tuple),
    );
  }
});

test("agreeHot: the lower of the two versions; nothing usable is none", () => {
  assert.equal(agreeHot(1), 1);
  assert.equal(agreeHot(HOT_FRAMES_VERSION + 5), HOT_FRAMES_VERSION);
  for (const x of [undefined, null, 0, -1, 1.5, "1", true, [1]]) assert.equal(agreeHot(x), 0, String(x));
});

test("a tuple the sender made itself goes as it is", () => {
  const t: Outgoing = [2, 7, "fc-z", bytes(4)];
  assert.deepEqual(plain(decodeFrame(encodeFrames([t], true)[0]!, true)), plain([outcome(7, "fc-z", bytes(4))]));
});
