import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { App } from "./app.js";
import { InvalidError } from "./errors.js";
import { normalizeFunctionOptions } from "./function-options.js";
import { Volume } from "./objects/volume.js";
import { Retries } from "./retries.js";
import { Period } from "./schedule.js";
import { Secret } from "./secret.js";

describe("function options", () => {
  it("name an anonymous function by where it is defined, and suggest the option meant", () => {
    const app = new App("opts-app");
    assert.throws(
      () => app.function({ timeoutMS: 1000 } as never, async () => 1),
      /^InvalidError: app "opts-app" function defined at packages\/skiff\/src\/function-options\.test\.ts:\d+: unknown option "timeoutMS" \(did you mean "timeoutMs"\?\)$/,
    );
    assert.throws(
      () => app.function({ name: "named", retry: 2 } as never, async () => 1),
      /function named: unknown option "retry" \(did you mean "retries"\?\)/,
    );
  });

  it("applies the documented defaults", () => {
    const { wire } = normalizeFunctionOptions("f", {});
    assert.equal(wire.timeoutMs, 300_000);
    assert.equal(wire.retries.maxRetries, 0);
    assert.equal(wire.scaledownWindowMs, 60_000);
    assert.equal(wire.startupTimeoutMs, 60_000);
    assert.equal(wire.maxInputs, 1);
    assert.equal(wire.blockNetwork, false);
  });

  it("takes retries as a number or a Retries", () => {
    assert.equal(normalizeFunctionOptions("f", { retries: 3 }).wire.retries.maxRetries, 3);
    const r = normalizeFunctionOptions("f", {
      retries: new Retries({ maxRetries: 2, initialDelayMs: 5, backoffCoefficient: 3 }),
    }).wire.retries;
    assert.deepEqual(r, { maxRetries: 2, initialDelayMs: 5, backoffCoefficient: 3, maxDelayMs: 60_000 });
  });

  it("rejects old or unknown names, and out-of-range values, naming them", () => {
    assert.throws(
      () => normalizeFunctionOptions("f", { timeout: 5 } as never),
      /option "timeout" is named "timeoutMs"/,
    );
    assert.throws(() => normalizeFunctionOptions("f", { colour: "red" } as never), /unknown option "colour"$/);
    assert.throws(
      () => normalizeFunctionOptions("f", { timeoutMS: 5000 } as never),
      /^InvalidError: f: unknown option "timeoutMS" \(did you mean "timeoutMs"\?\)$/,
    );
    assert.throws(
      () => normalizeFunctionOptions("f", { maxcontainer: 2 } as never),
      /unknown option "maxcontainer" \(did you mean "maxContainers"\?\)/,
    );
    assert.throws(
      () => normalizeFunctionOptions("f", { timeoutMs: 10 }),
      (e: Error) => e instanceof InvalidError && /timeoutMs must be an integer from 1000/.test(e.message),
    );
    assert.throws(
      () => normalizeFunctionOptions("f", { minContainers: 5, maxContainers: 2 }),
      /minContainers must be an integer from 0 to 2/,
    );
    assert.throws(() => normalizeFunctionOptions("f", { env: { "bad key": "x" } }), /not a valid variable name/);
  });

  it("collects named and inline secrets apart", () => {
    const { wire } = normalizeFunctionOptions("f", { secrets: [Secret.fromName("a"), Secret.fromObject({ K: "v" })] });
    assert.deepEqual(wire.secretNames, ["a"]);
    assert.deepEqual(wire.inlineSecrets, { K: "v" });
    assert.equal(String(Secret.fromObject({ K: "v" })), "Secret(<inline>)");
  });

  it("records volume mounts by path, and refuses bad mount paths and unnamed volumes", () => {
    const v = Volume.fromName("d", { createIfMissing: true });
    assert.deepEqual(normalizeFunctionOptions("f", { volumes: { "/d": v, "/ro": v.readOnly() } }).wire.volumes, {
      "/d": { name: "d", createIfMissing: true, readOnly: false },
      "/ro": { name: "d", createIfMissing: true, readOnly: true },
    });
    for (const bad of ["d", "/", "/a/../b", "/usr/x", "/proc"])
      assert.throws(() => normalizeFunctionOptions("f", { volumes: { [bad]: v } }), InvalidError, bad);
    assert.throws(
      () => normalizeFunctionOptions("f", { volumes: { "/e": Volume.ephemeral() } }),
      /mount a named Volume/,
    );
    assert.throws(() => normalizeFunctionOptions("f", { volumes: { "/e": "data" } as never }), /must be a Volume/);
  });

  it("records a schedule", () => {
    assert.deepEqual(normalizeFunctionOptions("f", { schedule: new Period({ minutes: 2 }) }).wire.schedule, {
      kind: "period",
      periodMs: 120_000,
    });
  });
});
