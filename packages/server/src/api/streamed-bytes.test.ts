import assert from "node:assert/strict";
import { it } from "node:test";
import { decodeFrame } from "@skiff/protocol";
import { replyPrefix } from "./streamed-bytes.js";

it("a streamed reply's prefix and bytes decode as the reply encoded whole", () => {
  for (const size of [0, 5, 23, 24, 255, 256, 65_535, 65_536, 3_000_000]) {
    const data = new Uint8Array(size).map((_, i) => i % 251);
    const prefix = replyPrefix(4_000_000_000 % 2 ** 31, "data", size);
    const frame = new Uint8Array(prefix.byteLength + size);
    frame.set(prefix, 0);
    frame.set(data, prefix.byteLength);
    const [msg] = decodeFrame(frame) as unknown as { t: string; id: number; ok: boolean; r: { data: Uint8Array } }[];
    assert.equal(msg!.t, "reply");
    assert.equal(msg!.ok, true);
    assert.equal(msg!.id, 4_000_000_000 % 2 ** 31);
    assert.deepEqual(new Uint8Array(msg!.r.data), data);
  }
});
