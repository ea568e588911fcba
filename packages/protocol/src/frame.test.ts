import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeCbor } from "./codec.js";
import { decodeFrame, encodeFrame, encodeFrames, ProtocolError } from "./frame.js";
import { MAX_FRAME_BYTES } from "./limits.js";
import type { Message } from "./messages.js";

describe("frames", () => {
  it("decodes what it encodes", () => {
    const msgs = [{ t: "app.list", id: 1, p: { environment: "main" } }] as Message[];
    assert.deepEqual(decodeFrame(encodeFrame(msgs)), msgs);
  });

  it("rejects malformed frames with ProtocolError", () => {
    for (const bad of [
      new Uint8Array([0xff, 0x00]),
      encodeCbor({ t: "x" }),
      encodeCbor([1, 2]),
      encodeCbor([{ t: 5 }]),
      encodeCbor([null]),
    ]) {
      assert.throws(() => decodeFrame(bad), ProtocolError);
    }
  });

  it("splits a batch that would exceed the frame size into several frames", () => {
    const big = new Uint8Array(40 * 1024 * 1024);
    const msgs = [1, 2].map((id) => ({ t: "reply", id, ok: true, r: { data: big } })) as unknown as Message[];
    const frames = encodeFrames(msgs);
    assert.equal(frames.length, 2);
    for (const f of frames) assert.ok(f.byteLength <= MAX_FRAME_BYTES);
    assert.equal(
      encodeFrames(
        Array.from({ length: 4500 }, (_, id) => ({ t: "reply", id, ok: true, r: 1 })) as unknown as Message[],
      ).length,
      3,
    );
  });
});
