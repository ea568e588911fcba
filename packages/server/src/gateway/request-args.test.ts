import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeCbor, encodeCbor, type WebRequestWire } from "@skiff/protocol";
import { encodeWebArgs } from "./request-args.js";

const base: WebRequestWire = {
  requestId: "rq-0123456789abcdef01234567",
  method: "GET",
  url: "/ping?x=1",
  headers: [
    ["Host", "127.0.0.1:7420"],
    ["connection", "keep-alive"],
  ],
  body: { kind: "none" },
  remoteAddress: "127.0.0.1",
  remotePort: 54321,
};

/** What the runtime decodes must be what cbor-x's own encoding decodes to. */
function same(wire: WebRequestWire): void {
  const got = decodeCbor(encodeWebArgs(wire));
  assert.deepEqual(got, [wire]);
  assert.deepEqual(got, decodeCbor(encodeCbor([wire])));
}

describe("encodeWebArgs: a web call's [wire] written directly, read back by cbor-x", () => {
  it("decodes to the same request: common GET, HTTP/1.0, upgrade, streamed body", () => {
    same(base);
    same({ ...base, httpVersion: "1.0" });
    same({ ...base, upgrade: true, body: { kind: "stream" } });
    const { remoteAddress: _a, remotePort: _p, ...local } = base;
    same(local);
    // A field left undefined is left out (the runtime reads it as absent either way).
    assert.deepEqual(decodeCbor(encodeWebArgs({ ...base, remotePort: undefined })), [
      { ...local, remoteAddress: "127.0.0.1" },
    ]);
    same({ ...base, headers: [] });
  });

  it("every string length class and non-ASCII text (latin1 header bytes, UTF-8 in a URL)", () => {
    for (const n of [0, 1, 23, 24, 255, 256, 65535, 65536, 70000]) {
      same({ ...base, url: `/${"a".repeat(n)}`, headers: [["x-long", "v".repeat(n)]] });
      same({ ...base, headers: [["x-mixed", `${"b".repeat(n)}é`]] });
    }
    same({ ...base, url: "/caf\u00e9?q=\u2713&e=\u{1f600}", headers: [["x-latin1", "\u00ff\u00e9\u0080"]] });
  });

  it("many headers (array length past one byte) and repeats in order", () => {
    const headers: [string, string][] = [];
    for (let i = 0; i < 300; i++) headers.push([i % 2 ? "X-Dup" : "x-dup", `v${i}`]);
    same({ ...base, headers });
  });

  it("bodies with data and odd shapes go through cbor-x (same bytes as encodeCbor)", () => {
    const bytes: WebRequestWire = { ...base, body: { kind: "bytes", data: new Uint8Array([1, 2, 255]) } };
    assert.deepEqual(Buffer.from(encodeWebArgs(bytes)), Buffer.from(encodeCbor([bytes])));
    same(bytes);
    same({ ...base, body: { kind: "json", value: { a: [1, "two", null], m: new Map([["k", 1]]) } } });
    same({ ...base, remotePort: -1 });
    same({ ...base, remotePort: 1.5 });
  });

  it("a result does not share memory with the next one", () => {
    const a = encodeWebArgs(base);
    const copy = Buffer.from(a);
    encodeWebArgs({ ...base, url: "/other", headers: [["a", "b".repeat(40_000)]] });
    assert.deepEqual(Buffer.from(a), copy);
  });
});
