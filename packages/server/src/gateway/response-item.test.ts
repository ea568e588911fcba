import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodePayload, encodePayload } from "@skiff/protocol";
import { decodeWebItem } from "./response-item.js";

const enc = new TextEncoder();

/** The gateway's reading of an item must be cbor-x's, whichever path it takes. */
function same(value: unknown): unknown {
  const bytes = encodePayload(value);
  const got = decodeWebItem(bytes);
  assert.deepEqual(got, decodePayload(bytes));
  return got;
}

describe("decodeWebItem", () => {
  it("reads a whole JSON answer as cbor-x does", () => {
    const h = same({
      status: 200,
      headers: [["content-type", "application/json; charset=utf-8"]],
      body: enc.encode('{"ok":true}'),
      end: true,
    }) as { body: Uint8Array };
    assert.ok(h.body instanceof Uint8Array);
  });

  it("reads heads of every size and field", () => {
    same({ status: 204, headers: [] });
    same({ status: 599, statusText: "Custom Reason", headers: [["x-a", "1"]], end: false });
    same({ status: 200, headers: [["set-cookie", "a=1"], ["Set-Cookie", "b=2"]], body: new Uint8Array(), end: true });
    const many = Array.from({ length: 40 }, (_, i): [string, string] => [`x-h${i}`, "v".repeat(i * 10)]);
    same({ status: 200, headers: many, body: new Uint8Array(70_000).fill(7), end: true });
    same({ status: 200, headers: [["x-long", "y".repeat(70_000)]] });
  });

  it("reads a body chunk", () => {
    const got = same(enc.encode("chunk of a streamed body"));
    assert.ok(got instanceof Uint8Array);
    same(new Uint8Array(0));
  });

  it("leaves other shapes to cbor-x, with the same result", () => {
    same({ status: 200, headers: [["x-name", "héllo ✓"]], end: true }); // not ASCII
    same({ status: 200.5, headers: [] });
    same({ status: -1, headers: [] });
    same({ status: 200, headers: [["a", "b", "c"]] });
    same({ status: 200, headers: [["a", 1]] });
    same({ status: 200, headers: [], extra: { nested: [1, 2] } });
    same({ trailers: [["x-checksum", "abc"]] });
    same({ status: 200, headers: [], body: "not bytes" });
    same({ status: 200, headers: [], end: null });
    same(null);
    same("a string");
    same(new Map([["status", 200]]));
  });

  it("does not read past a truncated item", () => {
    const bytes = encodePayload({ status: 200, headers: [["content-type", "text/plain"]], body: enc.encode("hi") });
    assert.throws(() => decodeWebItem(bytes.subarray(0, bytes.byteLength - 1)));
  });
});
