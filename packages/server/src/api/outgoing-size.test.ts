import assert from "node:assert/strict";
import { test } from "node:test";
import { type InputColumnsWire, type Message, packPayloads } from "@skiff/protocol";
import { BlobGrants } from "../auth/blob-grants.js";
import { approxSize, outgoingSize } from "./outgoing-size.js";

const group = (extra: Partial<InputColumnsWire> = {}): InputColumnsWire => ({
  callId: "fc-0123456789abcdef01234567",
  timeoutMs: 300_000,
  seq0: 7,
  inputIds: ["in-0123456789abcdef01234567"],
  attempts: [0],
  args: [new Uint8Array(20)],
  ...extra,
});
const inputs = (...groups: InputColumnsWire[]) => ({ t: "inputs.cols", b: { groups } }) as Message;

test("inputs.cols counts about what the walk counts, and grants the same blobs", () => {
  const cases = [
    inputs(group()),
    inputs(group({ method: "twice" }), group({ callId: "fc-b", seq0: 8 })),
    inputs(
      group({ args: [{ blob: "bl-1" }, new Uint8Array(5_000_000)], inputIds: ["in-a", "in-b"], attempts: [0, 1] }),
    ),
    inputs(
      group({
        inputIds: Array.from({ length: 1000 }, (_, i) => `in-${i}`),
        attempts: new Array(1000).fill(0),
        args: packPayloads(Array.from({ length: 1000 }, () => new Uint8Array(100))),
      }),
    ),
  ];
  for (const m of cases) {
    const walked = new BlobGrants();
    const counted = new BlobGrants();
    const w = approxSize(m, 0, walked);
    const c = outgoingSize(m, counted);
    assert.ok(c >= w * 0.9 && c <= w * 1.5, `${c} counted, ${w} walked`);
    assert.equal(counted.has("bl-1"), walked.has("bl-1"));
  }
  const g = new BlobGrants();
  outgoingSize(inputs(group({ args: [{ blob: "bl-x" }] })), g);
  assert.ok(g.has("bl-x"), "a blob a container is handed is granted to it");
});

test("anything else is walked, as before", () => {
  const g = new BlobGrants();
  const m = { t: "reply", id: 1, ok: true, r: { outcome: { kind: "result", result: { data: { blob: "bl-r" } } } } };
  assert.equal(outgoingSize(m as Message, g), approxSize(m, 0));
  assert.ok(g.has("bl-r"));
  const tuple: [2, number, string, Uint8Array] = [2, 9, "fc-z", new Uint8Array(10)];
  assert.equal(outgoingSize(tuple), approxSize(tuple, 0));
});
