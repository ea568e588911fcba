import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_PAYLOAD_BYTES } from "./limits.js";
import { decodePayload, encodePayload, PayloadError, validatePayload } from "./payload.js";

describe("payload codec", () => {
  it("round-trips the JavaScript types Skiff promises", () => {
    const v = {
      m: new Map<unknown, unknown>([[1, { a: [1n, "x"] }]]),
      s: new Set(["a"]),
      d: new Date(5),
      r: /x/g,
      u8: new Uint8Array([1]),
      i32: new Int32Array([-1]),
      u: undefined,
      n: null,
      big: -(2n ** 80n),
      nested: { deep: { er: new TypeError("t", { cause: "why" }) } },
    };
    const back = decodePayload(encodePayload(v, "args")) as typeof v;
    assert.ok(back.m instanceof Map && back.s instanceof Set && back.d instanceof Date && back.r instanceof RegExp);
    assert.ok(back.i32 instanceof Int32Array);
    assert.equal(back.big, -(2n ** 80n));
    assert.ok("u" in back);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.equal(back.nested.deep.er.name, "TypeError");
    assert.equal(back.nested.deep.er.cause, "why");
    assert.ok(back.nested.deep.er instanceof TypeError, "a built-in error class comes back as itself");
  });

  it("rebuilds JavaScript's own error classes as themselves, custom ones as Error with their name", () => {
    class Custom extends Error {
      override name = "Custom";
      code = 7;
    }
    const errs = [
      new EvalError("e"),
      new RangeError("r"),
      new ReferenceError("f"),
      new SyntaxError("s"),
      new TypeError("t"),
      new URIError("u"),
      new AggregateError([new RangeError("inner"), "why"], "agg", { cause: "c" }),
      new Custom("c"),
      Object.assign(new Error("renamed"), { name: "toString" }),
    ];
    const back = decodePayload(encodePayload(errs, "args")) as Error[];
    for (let i = 0; i < 6; i++) {
      assert.equal(Object.getPrototypeOf(back[i]), Object.getPrototypeOf(errs[i]), errs[i]!.name);
      assert.equal(back[i]!.message, errs[i]!.message);
    }
    const agg = back[6] as AggregateError;
    assert.ok(agg instanceof AggregateError);
    assert.equal(agg.message, "agg");
    assert.equal(agg.cause, "c");
    assert.ok(agg.errors[0] instanceof RangeError && agg.errors[0].message === "inner");
    assert.equal(agg.errors[1], "why");
    assert.ok(!Object.keys(agg).includes("errors"), "errors stays a non-enumerable field");
    assert.equal(Object.getPrototypeOf(back[7]), Error.prototype);
    assert.equal(back[7]!.name, "Custom");
    assert.equal((back[7] as Custom).code, 7);
    assert.equal(Object.getPrototypeOf(back[8]), Error.prototype, "a name that is no error class is just a name");
  });

  it("names the path of a value that cannot be sent", () => {
    const cases: [unknown, RegExp][] = [
      [[{ cb: () => 1 }], /^args\[0\]\.cb is a function/],
      [[1, Symbol("s")], /^args\[1\] is a symbol/],
      [[new (class Foo {})()], /^args\[0\] is an instance of Foo/],
      [[new Map([["k", () => 1]])], /^args\[0\]\.get\("k"\) is a function/],
      [[{ "a b": { f() {} } }], /^args\[0\]\["a b"\]\.f is a function/],
    ];
    for (const [value, re] of cases) {
      assert.throws(
        () => validatePayload(value, "args"),
        (e: Error) => e instanceof PayloadError && re.test(e.message),
      );
    }
  });

  it("refuses cycles and payloads over the limit", () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    assert.throws(() => validatePayload([a], "args"), /args\[0\]\.self refers back to itself/);
    assert.throws(
      () => encodePayload(new Uint8Array(MAX_PAYLOAD_BYTES + 1), "result"),
      /over the 67108864-byte \(64 MiB\) payload limit/,
    );
  });

  it("checks nesting past the quick check's depth as fully as the rest", () => {
    // validatePayload checks plain data without paths first and walks with paths only where
    // that check does not decide (deep nesting, Map, Set, Error) or finds something wrong.
    const deep = (n: number, leaf: unknown): Record<string, unknown> => {
      const top: Record<string, unknown> = {};
      let at = top;
      for (let i = 0; i < n; i++) at = at.d = {} as Record<string, unknown>;
      at.leaf = leaf;
      return top;
    };
    assert.doesNotThrow(() => validatePayload([deep(40, 1)], "args"));
    assert.throws(
      () => validatePayload([deep(40, () => 1)], "args"),
      /^PayloadError: args\[0\](\.d){40}\.leaf is a function/,
    );
    const cyclic = deep(40, undefined);
    let bottom = cyclic;
    while (bottom.d) bottom = bottom.d as Record<string, unknown>;
    bottom.back = cyclic;
    assert.throws(
      () => validatePayload([cyclic], "args"),
      /^PayloadError: args\[0\](\.d){40}\.back refers back to itself/,
    );
    assert.throws(() => validatePayload([{ [Symbol("k")]: 1 }], "args"), /args\[0\] has symbol keys/);
    assert.doesNotThrow(() => validatePayload([new Map([["k", new Set([new Error("e")])]])], "args"));
  });

  it("allows the same object twice when it is not a cycle", () => {
    const shared = { x: 1 };
    assert.doesNotThrow(() => validatePayload([shared, shared], "args"));
  });
});
