import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AppMode, WebSpec } from "@skiff/protocol";
import type { LiveFunction } from "../engine/model.js";
import { EndpointIndex } from "./endpoints.js";

function fn(id: string, appId: string, appName: string, label: string, environment = "main"): LiveFunction {
  const web: WebSpec = { kind: "endpoint", label, method: "GET", waitForResponse: true, requiresAuth: false };
  return { id, appId, appName, environment, live: true, spec: { web } } as unknown as LiveFunction;
}

describe("endpoint index", () => {
  it("finds deployed and -dev endpoints; the newest app, environment main first, wins a URL", () => {
    const apps = new Map<string, { mode: AppMode; createdAt: number }>([
      ["a1", { mode: "deployed", createdAt: 1 }],
      ["e1", { mode: "ephemeral", createdAt: 2 }],
      ["e2", { mode: "ephemeral", createdAt: 3 }],
      ["s1", { mode: "deployed", createdAt: 9 }],
    ]);
    const fns = [
      fn("f1", "a1", "Shop", "cart"),
      fn("f2", "e1", "shop", "cart"),
      fn("f3", "e2", "shop", "cart"),
      fn("f4", "s1", "shop", "cart", "staging"),
    ];
    let rebuilds = 0;
    const index = new EndpointIndex({
      functions: () => {
        rebuilds++;
        return fns;
      },
      app: (id) => apps.get(id),
    });
    assert.equal(index.find("shop", "cart", false)?.fn.id, "f1");
    assert.equal(index.find("SHOP", "cart", true)?.fn.id, "f3");
    assert.equal(index.find("shop", "nope", false), undefined);
    assert.equal(index.find("other", "x", false), undefined);
    assert.equal(rebuilds, 1, "misses on a fresh index cost no rebuild");
    // The deployed app stops: its entry is dropped on the next lookup.
    fns[0]!.live = false;
    assert.equal(index.find("shop", "cart", false)?.fn.id, "f4");
    assert.equal(rebuilds, 2);
    index.invalidate();
    index.find("shop", "cart", true);
    assert.equal(rebuilds, 3);
  });
});
