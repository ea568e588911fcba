import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { App, resolveApps } from "../app.js";
import { InvalidError } from "../errors.js";
import { queryObject } from "./serve-endpoint.js";
import { WebEndpoint } from "./web-endpoint.js";
import { defaultLabel } from "./web-params.js";

const schema = {
  "~standard": { version: 1 as const, vendor: "test", validate: (v: unknown) => ({ value: v }) },
};

describe("web endpoints in the SDK", () => {
  it("records the web config in the spec; the label defaults to the name", () => {
    const app = new App("w");
    const mod = {
      app,
      sendEmail: app.webEndpoint({ method: "POST", schema }, () => 1),
      api: app.fetchApp({ label: "api", requiresAuth: true, timeoutMs: 5000 }, () => () => new Response("x")),
    };
    resolveApps(mod);
    const specs = app._specs();
    assert.deepEqual(specs[0]!.web, {
      kind: "endpoint",
      label: "sendemail",
      method: "POST",
      waitForResponse: true,
      requiresAuth: false,
    });
    assert.equal(specs[0]!.isGenerator, true);
    assert.deepEqual(specs[1]!.web, { kind: "fetch", label: "api", waitForResponse: true, requiresAuth: true });
    assert.equal(specs[1]!.options.timeoutMs, 5000);
    assert.ok(mod.sendEmail instanceof WebEndpoint);
    assert.equal(mod.sendEmail.name, "sendEmail");
    assert.equal("remote" in mod.sendEmail, false);
    assert.equal("map" in mod.sendEmail, false);
  });

  it("rejects bad options with a message that names them", () => {
    const app = new App("w");
    const bad = (f: () => unknown, re: RegExp) =>
      assert.throws(f, (e: Error) => e instanceof InvalidError && re.test(e.message));
    bad(() => app.webEndpoint({ method: "TRACE" as "GET" }, () => 1), /method must be one of GET, POST/);
    bad(() => app.webEndpoint({ label: "Bad_Label" }, () => 1), /label "Bad_Label" is invalid/);
    bad(() => app.webEndpoint({ label: "x-dev" }, () => 1), /not ending in "-dev"/);
    bad(() => app.webEndpoint({ schema: {} as typeof schema }, () => 1), /Standard Schema/);
    bad(() => app.fetchApp({ label: "a", retries: 2 } as never, () => () => new Response()), /no "retries" option/);
    bad(() => app.fetchApp({ method: "GET" } as never, () => () => new Response()), /webEndpoint only/);
    bad(() => app.nodeHttpApp({ concurrency: { maxInputs: 2, threads: true } }, () => () => {}), /threads/);
    bad(() => app.fetchApp({}, undefined as never), /expected a function that returns the handler/);
  });

  it("two endpoints of one app cannot share a label", () => {
    const app = new App("w");
    resolveApps({ a: app.webEndpoint({ label: "same" }, () => 1), b: app.webEndpoint({ label: "same" }, () => 2) });
    assert.throws(() => app._specs(), /both use the web label "same"/);
  });

  it("default labels and query objects", () => {
    assert.equal(defaultLabel("sendEmail"), "sendemail");
    assert.equal(defaultLabel("send_email"), "send-email");
    assert.deepEqual(queryObject("/x?a=1&b=2&a=3&c="), { a: ["1", "3"], b: "2", c: "" });
    assert.deepEqual(queryObject("/"), {});
  });
});
