import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  closeFrame,
  FRAME_FINAL,
  FRAME_MORE,
  FramedStreamError,
  FrameReader,
  frameHeader,
  wholeFrame,
} from "./framed-stream.js";

const frame = (kind: number, bytes: number[]) => [...frameHeader(kind, bytes.length), ...bytes];

function read(stream: Uint8Array, cut: number[], maxPayload = 1000) {
  const got: (string | number[])[] = [];
  const r = new FrameReader(
    { message: (d) => got.push([...d]), close: (code, reason) => got.push(`close ${code} ${reason}`) },
    maxPayload,
  );
  let at = 0;
  for (const c of [...cut, stream.byteLength]) {
    r.push(stream.subarray(at, c));
    at = c;
  }
  return got;
}

describe("framed stream", () => {
  const stream = new Uint8Array([
    ...frame(FRAME_FINAL, [1, 2, 3]),
    ...frame(FRAME_FINAL, []),
    ...frame(FRAME_MORE, [4, 5]),
    ...frame(FRAME_MORE, []),
    ...frame(FRAME_FINAL, [6]),
    ...closeFrame(1000, "bye"),
    ...frame(FRAME_FINAL, [9]), // after the close: not read
  ]);
  const want = [[1, 2, 3], [], [4, 5, 6], "close 1000 bye"];

  it("a whole frame in one buffer is the header and the payload", () => {
    for (const n of [0, 1, 300, 70_000]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
      const one = wholeFrame(FRAME_FINAL, data);
      assert.deepEqual([...one], [...frameHeader(FRAME_FINAL, n), ...data]);
      assert.deepEqual(read(one, [], 100_000), [[...data]]);
    }
  });

  it("reads messages, fragments and the close, however the bytes are cut", () => {
    assert.deepEqual(read(stream, []), want);
    for (let a = 1; a < stream.byteLength; a++) {
      assert.deepEqual(read(stream, [a]), want, `cut at ${a}`);
      for (let b = a + 1; b < stream.byteLength; b += 3)
        assert.deepEqual(read(stream, [a, b]), want, `cut at ${a}, ${b}`);
    }
    const oneByOne = Array.from({ length: stream.byteLength - 1 }, (_, i) => i + 1);
    assert.deepEqual(read(stream, oneByOne), want);
  });

  it("a fragment kept across chunks is a copy (the chunk's buffer may be reused)", () => {
    const got: Uint8Array[] = [];
    const r = new FrameReader({ message: (d) => got.push(d), close() {} }, 100);
    const a = new Uint8Array(frame(FRAME_MORE, [7, 7]));
    r.push(a);
    a.fill(0);
    r.push(new Uint8Array(frame(FRAME_FINAL, [8])));
    assert.deepEqual([...got[0]!], [7, 7, 8]);
  });

  it("refuses a message over maxPayload (in all its fragments), an unknown kind, a malformed close", () => {
    const code = (f: () => void) => {
      try {
        f();
      } catch (err) {
        assert.ok(err instanceof FramedStreamError);
        return err.code;
      }
      return 0;
    };
    assert.equal(
      code(() => read(new Uint8Array(frame(FRAME_FINAL, [1, 2, 3, 4])), [], 3)),
      1009,
    );
    assert.equal(
      code(() => read(new Uint8Array([...frame(FRAME_MORE, [1, 2]), ...frame(FRAME_FINAL, [3, 4])]), [], 3)),
      1009,
    );
    assert.equal(
      code(() => read(new Uint8Array(frame(FRAME_FINAL, [1, 2, 3])), [], 3)),
      0,
    );
    assert.equal(
      code(() => read(new Uint8Array(frame(3, [1])), [])),
      1002,
    );
    assert.equal(
      code(() => read(new Uint8Array(frame(8, [1])), [])),
      1002,
    );
    // A length past maxPayload is refused from the header, before any of it is held.
    assert.equal(
      code(() => read(new Uint8Array(frameHeader(FRAME_FINAL, 0xffffffff)), [], 1000)),
      1009,
    );
  });
});
