import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CallOutcome } from "@skiff/protocol";
import { SqliteStore } from "./sqlite-store.js";

const outcome = (status: "success" | "failure" | "timeout"): CallOutcome =>
  status === "success"
    ? { kind: "result", result: { status, data: new Uint8Array([1]) } }
    : status === "failure"
      ? { kind: "result", result: { status, error: new Uint8Array([1]) } }
      : { kind: "result", result: { status, message: "slow" } };

describe("SqliteStore: the dashboard's reads", () => {
  it("lists calls newest first by filter, and a cursor walks every call once, ties on created_at included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-dash-store-"));
    const s = new SqliteStore({ dataDir: dir });
    try {
      s.insertApp({
        id: "ap-1",
        name: "shop",
        environment: "main",
        mode: "deployed",
        state: "deployed",
        version: 1,
        createdAt: 0,
        ownerSession: null,
      });
      s.upsertFunction({
        id: "fu-a",
        appId: "ap-1",
        name: "pay",
        version: 1,
        spec: "{}",
        bundleBlobId: "b",
        active: true,
      });
      // 30 calls, three to a millisecond (ties), every third failed, the rest split.
      for (let i = 0; i < 30; i++) {
        const id = `fc-${String(i).padStart(4, "0")}`;
        s.insertCall(
          {
            id,
            functionId: i % 2 ? "fu-a" : "fu-a.inst",
            appId: "ap-1",
            kind: "spawn",
            idempotencyKey: null,
            parentInputId: null,
            method: i % 2 ? null : "run",
            createdAt: 1000 + Math.floor(i / 3),
          },
          [
            {
              id: `in-${i}`,
              callId: id,
              idx: 0,
              args: new Uint8Array([0x18, i]),
              state: "pending",
              attempt: 0,
              failures: 0,
            },
          ],
        );
        if (i % 5 !== 4) s.completeCall(id, "done", outcome(i % 3 === 0 ? "failure" : "success"), 2000, null);
      }
      const seen: string[] = [];
      let before: { createdAt: number; id: string } | undefined;
      for (;;) {
        const page = await s.listCalls({ appId: "ap-1", limit: 7, ...(before ? { before } : {}) });
        if (page.length === 0) break;
        seen.push(...page.map((r) => r.id));
        const last = page[page.length - 1]!;
        before = { createdAt: last.createdAt, id: last.id };
      }
      assert.equal(seen.length, 30);
      assert.equal(new Set(seen).size, 30, "no call twice");
      assert.deepEqual(seen, [...seen].sort().reverse(), "newest first, ties by id");

      const failed = await s.listCalls({ status: "failure", limit: 100 });
      assert.ok(failed.length > 0);
      assert.ok(failed.every((r) => r.status === "failure"));
      const pending = await s.listCalls({ status: "pending", limit: 100 });
      assert.deepEqual(pending.map((r) => r.id).sort(), [
        "fc-0004",
        "fc-0009",
        "fc-0014",
        "fc-0019",
        "fc-0024",
        "fc-0029",
      ]);
      const window = await s.listCalls({ since: 1002, until: 1004, limit: 100 });
      assert.deepEqual(window.map((r) => r.createdAt).sort(), [1002, 1002, 1002, 1003, 1003, 1003]);
      const fn = await s.listCalls({ functionId: "fu-a", limit: 100 });
      assert.equal(fn.length, 15);
      // A class instance's calls are named after the class's function.
      const inst = (await s.listCalls({ functionId: "fu-a.inst", limit: 1 }))[0]!;
      assert.equal(inst.functionName, "pay");
      assert.equal(inst.method, "run");
      assert.equal(inst.appName, "shop");
      // A finished call keeps its arguments for its page.
      assert.deepEqual(await s.callArgs("fc-0000"), new Uint8Array([0x18, 0]));
      assert.equal((await s.callSummary("fc-0003"))?.status, "failure");
      assert.equal(await s.callSummary("fc-nope"), undefined);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("records attempts with their timing, and reads logs by input and position", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-dash-store-"));
    const s = new SqliteStore({ dataDir: dir });
    try {
      s.insertAttempt({
        inputId: "in-1",
        callId: "fc-1",
        attempt: 1,
        containerId: "ct-1",
        queuedAt: 10,
        startedAt: 30,
        coldStartMs: 15,
      });
      s.endAttempt("in-1", 1, "failure", 50);
      s.insertAttempt({
        inputId: "in-1",
        callId: "fc-1",
        attempt: 2,
        containerId: "ct-1",
        queuedAt: 60,
        startedAt: 61,
        coldStartMs: 0,
      });
      const a = await s.callAttempts("fc-1", 10);
      assert.deepEqual(
        a.map((x) => [x.attempt, x.status, x.startedAt, x.endedAt, x.coldStartMs]),
        [
          [1, "failure", 30, 50, 15],
          [2, "running", 61, null, 0],
        ],
      );
      s.trimGraph(55);
      assert.equal((await s.callAttempts("fc-1", 10)).length, 1, "trimmed with the graph");

      s.appendLogs(
        Array.from({ length: 10 }, (_, i) => ({
          ts: i,
          appId: "ap-1",
          functionName: i % 2 ? "f" : "g",
          inputId: i < 5 ? "in-a" : "in-b",
          stream: "stdout" as const,
          text: `line ${i}`,
        })),
      );
      const last3 = await s.queryLogs({ appId: "ap-1", limit: 3 });
      assert.deepEqual(
        last3.map((l) => l.text),
        ["line 7", "line 8", "line 9"],
        "the newest, oldest first",
      );
      const after = await s.queryLogs({ afterSeq: last3[0]!.seq, limit: 10 });
      assert.deepEqual(
        after.map((l) => l.text),
        ["line 8", "line 9"],
      );
      const byInput = await s.queryLogs({ inputId: "in-a", functionName: "f", limit: 10 });
      assert.deepEqual(
        byInput.map((l) => l.text),
        ["line 1", "line 3"],
      );
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
