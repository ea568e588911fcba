import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LogEntry } from "@skiff/protocol";
import type { Store } from "../store/store.js";
import { LogHub } from "./log-hub.js";

describe("LogHub", () => {
  it("counts the lines of a bounded number of apps: the one counted longest is trimmed and forgotten", () => {
    const trimmed: string[] = [];
    const store = { appendLogs() {}, trimLogs: (appId: string) => trimmed.push(appId) } as unknown as Store;
    const hub = new LogHub(store, 1024, 3);
    const line = (appId: string) => ({ appId, text: "x" }) as LogEntry;
    for (const app of ["ap-1", "ap-2", "ap-3", "ap-1"]) hub.append([line(app)]);
    assert.deepEqual(trimmed, [], "three apps counted: none trimmed yet");
    hub.append([line("ap-4")]);
    assert.deepEqual(trimmed, ["ap-1"], "a fourth app: the first counted is trimmed at once");
    for (let i = 5; i < 1000; i++) hub.append([line(`ap-${i}`)]);
    assert.equal(trimmed.length, 996, "one trim per app past the bound, each app once");
    assert.equal(new Set(trimmed).size, 996);
    // A tick trims apps that wrote much since their last trim (here, over 1024 / 16 bytes).
    hub.append([{ appId: "ap-999", text: "y".repeat(100) } as LogEntry]);
    hub.trim();
    assert.equal(trimmed.at(-1), "ap-999");
  });
});
