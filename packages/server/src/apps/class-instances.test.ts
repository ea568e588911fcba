import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ParamSpec } from "@skiff/protocol";
import { checkParams, instanceId, isDefault } from "./class-instances.js";

const schema: ParamSpec[] = [
  { name: "size", type: "string", default: "small" },
  { name: "n", type: "bigint", default: "3" },
  { name: "flag", type: "boolean", default: false },
  { name: "anything", type: "any" },
];

describe("class instance parameters", () => {
  it("fills defaults in schema order, so equal instances get one id", () => {
    const a = checkParams("M", schema, { anything: 1 });
    const b = checkParams("M", schema, { flag: false, anything: 1, size: "small", n: 3n });
    assert.deepEqual(Object.keys(a), ["size", "n", "flag", "anything"]);
    assert.deepEqual(a, b);
    assert.equal(instanceId("fu-1", a, {}), instanceId("fu-1", b, {}));
    assert.notEqual(instanceId("fu-1", a, {}), instanceId("fu-1", { ...a, size: "large" }, {}));
    assert.notEqual(instanceId("fu-1", a, {}), instanceId("fu-1", a, { maxInputs: 2 }));
    // Key order of the overrides does not matter.
    assert.equal(
      instanceId("fu-1", a, { maxInputs: 2, timeoutMs: 5000 }),
      instanceId("fu-1", a, { timeoutMs: 5000, maxInputs: 2 }),
    );
  });

  it("names unknown, missing and mistyped parameters", () => {
    assert.throws(() => checkParams("M", schema, { anything: 1, sise: "x" }), /unknown parameter "sise"/);
    assert.throws(() => checkParams("M", schema, {}), /parameter "anything" has no default and must be given/);
    assert.throws(() => checkParams("M", schema, { anything: 1, size: 4 }), /parameter "size" must be a string/);
    assert.throws(() => checkParams("M", schema, { anything: 1, n: 3 }), /parameter "n" must be a bigint/);
    assert.throws(() => checkParams("M", schema, { anything: {} }), /must be a string, number, boolean or bigint/);
  });

  it("knows the default instance", () => {
    const s = schema.slice(0, 3);
    assert.ok(isDefault(s, checkParams("M", s, {})));
    assert.ok(!isDefault(s, checkParams("M", s, { size: "large" })));
    assert.ok(!isDefault(schema, checkParams("M", schema, { anything: 1 })));
  });
});
