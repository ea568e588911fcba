import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isWebHost, route, webPathUrl, webUrl } from "./routes.js";

describe("gateway routes", () => {
  it("routes by host: <app>--<label>[-dev].localhost, every '--' split tried", () => {
    assert.deepEqual(route("my-app--hello.localhost:7420", "/x?y=1"), {
      kind: "endpoint",
      host: "my-app--hello",
      dev: false,
      candidates: [{ app: "my-app", label: "hello" }],
      rest: "/x?y=1",
    });
    const dev = route("My--App--api-dev.localhost", "/");
    assert.ok(dev?.kind === "endpoint");
    assert.equal(dev.dev, true);
    assert.deepEqual(dev.candidates, [
      { app: "my", label: "app--api" },
      { app: "my--app", label: "api" },
    ]);
  });

  it("routes by path: /web/<app>/<label>/…, the rest below the endpoint root", () => {
    const t = route("127.0.0.1:7420", "/web/my-app/api/items/3?q=1");
    assert.ok(t?.kind === "endpoint");
    assert.deepEqual(t.candidates, [{ app: "my-app", label: "api" }]);
    assert.equal(t.rest, "/items/3?q=1");
    const q = route("127.0.0.1", "/web/my-app/hello?name=x");
    assert.ok(q?.kind === "endpoint");
    assert.equal(q.rest, "/?name=x");
    const d = route(undefined, "/web/a/b-dev");
    assert.ok(d?.kind === "endpoint" && d.dev && d.candidates[0]!.label === "b");
  });

  it("result URLs, the JSON API, and what is not the gateway's", () => {
    assert.deepEqual(route("127.0.0.1", "/web/_result/fc-00ff"), { kind: "result", callId: "fc-00ff" });
    assert.deepEqual(route("127.0.0.1", "/v1/calls/fc-1"), { kind: "api", path: "/v1/calls/fc-1" });
    assert.equal(route("127.0.0.1", "/v1/ws"), undefined);
    assert.equal(route("127.0.0.1", "/healthz"), undefined);
    assert.equal(route("localhost:7420", "/web/only-app"), undefined);
    // A host-routed app owns every path, /v1 included.
    assert.equal(route("a--b.localhost", "/v1/ws")?.kind, "endpoint");
    assert.equal(isWebHost("a--b.localhost:7420"), true);
    assert.equal(isWebHost("127.0.0.1:7420"), false);
    assert.equal(isWebHost(undefined), false);
  });

  it("builds both URL forms; ephemeral apps get -dev", () => {
    const base = new URL("http://127.0.0.1:7420");
    assert.equal(webUrl(base, "My-App", "hello", "deployed"), "http://my-app--hello.localhost:7420");
    assert.equal(webUrl(base, "app", "hello", "ephemeral"), "http://app--hello-dev.localhost:7420");
    assert.equal(webPathUrl(base, "app", "hello", "ephemeral"), "http://127.0.0.1:7420/web/app/hello-dev");
  });
});
