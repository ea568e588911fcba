import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FunctionSpec } from "@skiff/protocol";
import { checkWebLabels, validateFunctionSpec } from "./validate-spec.js";

const options = {
  timeoutMs: 60_000,
  retries: { maxRetries: 0, backoffCoefficient: 2, initialDelayMs: 1000, maxDelayMs: 60_000 },
  maxContainers: 10,
  minContainers: 0,
  bufferContainers: 0,
  scaledownWindowMs: 60_000,
  startupTimeoutMs: 60_000,
  maxInputs: 1,
  env: {},
  blockNetwork: false,
  secretNames: [],
  inlineSecrets: {},
};
const web = { kind: "endpoint", label: "hello", method: "GET", waitForResponse: true, requiresAuth: false };
const spec = (w: unknown, isGenerator = true) => ({ name: "f", isGenerator, options, web: w });

describe("web specs from app.publish", () => {
  it("accepts what the SDK sends", () => {
    validateFunctionSpec("a", spec(web));
    validateFunctionSpec("a", spec({ kind: "node", label: "legacy", waitForResponse: false, requiresAuth: true }));
  });

  it("rejects what the gateway could not route, naming the field", () => {
    const bad = (w: unknown, re: RegExp, gen = true) =>
      assert.throws(() => validateFunctionSpec("a", spec(w, gen)), re);
    bad({ ...web, kind: "grpc" }, /web.kind/);
    bad({ ...web, label: "a--b" }, /web label "a--b" is invalid/);
    bad({ ...web, label: "x-dev" }, /web label "x-dev"/);
    bad({ ...web, method: "TRACE" }, /web.method/);
    bad({ kind: "fetch", label: "x", method: "GET", waitForResponse: true, requiresAuth: false }, /web.method/);
    bad({ ...web, requiresAuth: "yes" }, /requiresAuth must be booleans/);
    bad(web, /must be a generator/, false);
  });

  it("two endpoints of one app cannot share a label", () => {
    const specs = [spec(web), { ...spec(web), name: "g" }] as FunctionSpec[];
    assert.throws(() => checkWebLabels("a", specs), /f and g both use the web label "hello"/);
  });
});
