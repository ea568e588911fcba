// One contract, two stores: the same tests run against SQLite and Postgres (as Hono runs one
// router suite against every router). Each test gets a fresh store (commits 20 ms apart, so
// a read right after a write must wait for it); "reopen" opens a second
// store on the same data, as a restarted server would.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { CallOutcome } from "@skiff/protocol";
import { PostgresStore, SqliteStore, type Store, StoreCommitError } from "@skiff/server";
import { postgres } from "./helpers/postgres.js";

interface Harness {
  store: Store;
  /** A second store on the same data (the first one stays open). */
  reopen(): Promise<Store>;
}

const opened: Store[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of opened) await s.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const STORES: [string, () => Promise<Harness>][] = [
  [
    "sqlite",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "skiff-contract-"));
      dirs.push(dir);
      const open = async () => {
        const s = new SqliteStore({ dataDir: dir, commitDelayMs: 20 });
        opened.push(s);
        return s;
      };
      return { store: await open(), reopen: open };
    },
  ],
  [
    "postgres",
    async () => {
      const url = await (await postgres()).createDatabase("contract");
      const open = async () => {
        const s = await PostgresStore.open({ url, commitDelayMs: 20 });
        opened.push(s);
        return s;
      };
      return { store: await open(), reopen: open };
    },
  ],
];

const call = (id: string, extra: Partial<Parameters<Store["insertCall"]>[0]> = {}) => ({
  id,
  functionId: "fu-1",
  kind: "spawn" as const,
  idempotencyKey: `k-${id}`,
  parentInputId: null,
  method: null,
  createdAt: 1000,
  ...extra,
});
const input = (callId: string, idx = 0, args: Uint8Array | { blob: string } = new Uint8Array([idx, 1, 2])) => ({
  id: `in-${callId}-${idx}`,
  callId,
  idx,
  args,
  state: "pending" as const,
  attempt: 0,
  failures: 0,
});
const success = (data: Uint8Array | { blob: string }): CallOutcome => ({
  kind: "result",
  result: { status: "success", data },
});
const app = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: "shop",
  environment: "main",
  mode: "deployed" as const,
  state: "deployed" as const,
  version: 1,
  createdAt: 1000,
  ownerSession: null,
  ...extra,
});

for (const [name, make] of STORES) {
  describe(`Store contract: ${name}`, () => {
    it("calls and inputs: read-your-writes before the commit, durable after flush, pending ones listed with inputs", async () => {
      const { store, reopen } = await make();
      store.insertCall(call("fc-1"), [input("fc-1", 0), input("fc-1", 1, { blob: `bl-${"a".repeat(64)}` })]);
      store.insertCall(call("fc-2", { kind: "remote", idempotencyKey: null }), [input("fc-2")]);
      assert.equal((await store.getCall("fc-1"))?.state, "pending", "a read sees the writes issued before it");
      assert.equal((await store.getCallByIdempotencyKey("k-fc-1"))?.id, "fc-1");
      // Many lookups at once (Postgres answers them in one query): each gets its own answer.
      store.insertCall(call("fc-3"), [input("fc-3")]);
      const found = await Promise.all(
        ["k-fc-1", "k-nope", "k-fc-3", "k-fc-1"].map((k) => store.getCallByIdempotencyKey(k)),
      );
      assert.deepEqual(
        found.map((c) => c?.id),
        ["fc-1", undefined, "fc-3", "fc-1"],
      );
      assert.equal(found[2]?.state, "pending");
      store.deleteCall("fc-3");
      store.updateInput("in-fc-1-0", "done", 2, 1);
      await store.flush();
      const again = await reopen();
      const pending = await again.pendingCalls("", 10);
      assert.deepEqual(
        pending.map((p) => p.row.id),
        ["fc-1", "fc-2"],
      );
      const [first] = pending;
      assert.equal(first!.row.kind, "spawn");
      assert.equal(first!.row.parked, false);
      assert.deepEqual(
        first!.inputs.map((i) => [i.idx, i.state, i.attempt, i.failures]),
        [
          [0, "done", 2, 1],
          [1, "pending", 0, 0],
        ],
      );
      assert.deepEqual(first!.inputs[0]!.args, new Uint8Array([0, 1, 2]));
      assert.deepEqual(first!.inputs[1]!.args, { blob: `bl-${"a".repeat(64)}` });
      assert.deepEqual(
        (await again.pendingCalls("fc-1", 10)).map((p) => p.row.id),
        ["fc-2"],
        "paged after an id",
      );
    });

    it("outputs and retention: a completed call keeps its outcome until it expires; deleted calls are gone", async () => {
      const { store } = await make();
      store.insertCall(call("fc-o"), [input("fc-o")]);
      store.completeCall("fc-o", "done", success(new Uint8Array([42])), 2000, 5000);
      store.insertCall(call("fc-c"), [input("fc-c")]);
      store.completeCall("fc-c", "cancelled", { kind: "cancelled" }, 2000, null);
      store.insertCall(call("fc-d", { kind: "remote" }), [input("fc-d")]);
      store.deleteCall("fc-d");
      await store.flush();
      const done = await store.getCall("fc-o");
      assert.equal(done?.state, "done");
      assert.deepEqual(done?.outcome, success(new Uint8Array([42])));
      assert.equal(done?.expiresAt, 5000);
      assert.equal((await store.getCall("fc-c"))?.state, "cancelled");
      assert.equal(await store.getCall("fc-d"), undefined);
      assert.deepEqual(await store.pendingCalls("", 10), [], "completed calls are not pending");
      assert.equal(await store.expireCalls(4999), 0);
      assert.equal(await store.expireCalls(5000), 1);
      const expired = await store.getCall("fc-o");
      assert.equal(expired?.state, "expired");
      assert.equal(expired?.outcome, undefined, "its payload is gone");
    });

    it("retention: ended calls expire (cancelled ones too), expired ones are forgotten later, oldest first", async () => {
      const { store } = await make();
      for (const [id, state, expiresAt] of [
        ["fc-1", "done", 100],
        ["fc-2", "cancelled", 200],
        ["fc-3", "done", 300],
        ["fc-4", "done", 900],
      ] as const) {
        store.insertCall(call(id), [input(id)]);
        store.completeCall(
          id,
          state,
          state === "done" ? success(new Uint8Array([1])) : { kind: "cancelled" },
          1,
          expiresAt,
        );
      }
      store.insertCall(call("fc-p"), [input("fc-p")]); // pending: never expires
      assert.equal(await store.expireCalls(500), 3);
      assert.equal((await store.getCall("fc-2"))?.state, "expired", "a cancelled call expires too");
      assert.equal(await store.callArgs("fc-1"), undefined, "an expired call's inputs are gone");
      assert.equal(await store.forgetExpiredCalls(99, 10), 0, "none expired that early");
      assert.equal(await store.forgetExpiredCalls(1000, 2), 2, "at most the limit, oldest first");
      assert.equal(await store.getCall("fc-1"), undefined);
      assert.equal(await store.getCall("fc-2"), undefined);
      assert.equal((await store.getCall("fc-3"))?.state, "expired");
      assert.equal(await store.forgetExpiredCalls(1000, 10), 1);
      assert.equal((await store.getCall("fc-4"))?.state, "done", "not expired yet: kept");
      assert.equal((await store.getCall("fc-p"))?.state, "pending");
      await store.flush();
    });

    it("running maps: a row per map, durable, expiring only once given a time, orphaned at restart", async () => {
      const { store, reopen } = await make();
      const row = (id: string, expiresAt: number | null) => ({
        id,
        functionId: "fn-1",
        method: null,
        parentInputId: null,
        idempotencyKey: `ik-${id}`,
        createdAt: 1000,
        expiresAt,
      });
      store.insertMapCall(row("fc-m1", null));
      store.insertMapCall({ ...row("fc-m2", null), method: "run", parentInputId: "in-p" });
      store.insertMapCall(row("fc-m3", null));
      assert.deepEqual(await store.getMapCall("fc-m1"), row("fc-m1", null), "read-your-writes");
      await store.flush();
      const again = await reopen();
      assert.deepEqual(await again.getMapCall("fc-m2"), {
        ...row("fc-m2", null),
        method: "run",
        parentInputId: "in-p",
      });
      store.setMapCallExpiry("fc-m1", 5000);
      store.setMapCallExpiry("fc-m3", 7000);
      assert.equal(await store.expireMapCalls(4999), 0);
      assert.equal(await store.expireMapCalls(5000), 1, "only the one given a time, once it passed");
      assert.equal((await store.getMapCall("fc-m3"))?.expiresAt, 7000);
      assert.equal(await store.expireMapCalls(7000), 1);
      assert.equal(await store.getMapCall("fc-m3"), undefined);
      assert.equal(await store.getMapCall("fc-m1"), undefined);
      store.orphanMapCalls(9000);
      store.insertMapCall(row("fc-m4", null));
      assert.equal((await store.getMapCall("fc-m2"))?.expiresAt, 9000);
      store.setMapCallExpiry("fc-m2", null); // taken back
      assert.equal(await store.expireMapCalls(10_000), 0);
      assert.equal((await store.getMapCall("fc-m4"))?.expiresAt, null);
    });

    it("blob references: rows name the blobs they hold until they let go of them", async () => {
      const { store } = await make();
      const b = (c: string) => `bl-${c.repeat(64)}`;
      store.insertCall(call("fc-a"), [input("fc-a", 0, { blob: b("1") })]);
      store.insertCall(call("fc-r"), []);
      store.completeCall("fc-r", "done", success({ blob: b("2") }), 1, 10);
      store.insertCall(call("fc-f"), []);
      store.completeCall(
        "fc-f",
        "done",
        { kind: "result", result: { status: "failure", error: { blob: b("3") } } },
        1,
        null,
      );
      store.upsertFunction({
        id: "fu-9",
        appId: "ap-1",
        name: "f",
        version: 1,
        spec: "{}",
        bundleBlobId: b("4"),
        active: true,
      });
      store.insertDeployment({ appId: "ap-1", version: 1, bundleBlobId: b("5"), functions: ["f"], createdAt: 1 });
      const dict = {
        id: "di-1",
        kind: "dict" as const,
        environment: "main",
        name: "d",
        ownerApp: null,
        ownerSession: null,
      };
      await store.objects.createObject({ ...dict, createdAt: 1 });
      await store.objects.dictPut("di-1", "s:big", { blob: b("7") }, 1, false);
      const all = ["1", "2", "3", "4", "5", "6", "7"].map(b);
      assert.deepEqual([...(await store.referencedBlobs(all))].sort(), [...all.slice(0, 5), b("7")]);
      store.completeCall("fc-a", "done", success(new Uint8Array([1])), 2, null); // its input goes
      await store.expireCalls(10); // fc-r's result expires
      await store.objects.dictDelete("di-1", "s:big");
      assert.deepEqual([...(await store.referencedBlobs(all))].sort(), [b("3"), b("4"), b("5")]);
      assert.deepEqual([...(await store.referencedBlobs([]))], []);
    });

    it("parked spawns: oldest first per function, taken back in, cancelled where they lie", async () => {
      const { store } = await make();
      for (let i = 0; i < 5; i++)
        store.insertCall(call(`fc-p${i}`, { createdAt: 100 + i, parked: true }), [input(`fc-p${i}`)]);
      store.insertCall(call("fc-other", { functionId: "fu-2", parked: true }), [input("fc-other")]);
      const page = await store.parkedCalls("fu-1", 3);
      assert.deepEqual(
        page.map((p) => p.row.id),
        ["fc-p0", "fc-p1", "fc-p2"],
      );
      assert.equal(page[0]!.inputs.length, 1);
      assert.ok(page.every((p) => p.row.parked));
      store.setParked("fc-p0", false);
      store.completeCall("fc-p1", "cancelled", { kind: "cancelled" }, 1, null);
      assert.deepEqual(
        (await store.parkedCalls("fu-1", 10)).map((p) => p.row.id),
        ["fc-p2", "fc-p3", "fc-p4"],
      );
      const pending = (await store.pendingCalls("", 100)).map((p) => [p.row.id, p.row.parked]);
      assert.deepEqual(
        pending.find(([id]) => id === "fc-p0"),
        ["fc-p0", false],
      );
    });

    it("apps and versions: deployed lookup, latest, list, redeploy, deployments, functions, class instances", async () => {
      const { store } = await make();
      store.insertApp(app("ap-1"));
      store.insertApp(app("ap-2", { mode: "ephemeral", state: "running", createdAt: 2000, ownerSession: "se-1" }));
      store.insertDeployment({ appId: "ap-1", version: 1, bundleBlobId: "bl-x", functions: ["a", "b"], createdAt: 1 });
      store.updateApp("ap-1", "deployed", 2);
      store.insertDeployment({ appId: "ap-1", version: 2, bundleBlobId: "bl-y", functions: ["a"], createdAt: 2 });
      const fn = (n: string, version: number) => ({
        id: `fu-${n}`,
        appId: "ap-1",
        name: n,
        version,
        spec: JSON.stringify({ name: n }),
        bundleBlobId: "bl-y",
        active: true,
      });
      store.upsertFunction(fn("a", 1));
      store.upsertFunction(fn("b", 1));
      store.upsertFunction({ ...fn("a", 2), id: "fu-ignored" }); // same app and name: keeps its id
      store.deactivateFunctions("ap-1", 2);
      assert.equal((await store.findDeployedApp("main", "shop"))?.version, 2);
      assert.equal((await store.findLatestApp("main", "shop"))?.id, "ap-2", "the newest live app of that name");
      assert.equal((await store.getApp("ap-2"))?.ownerSession, "se-1");
      assert.deepEqual(
        (await store.listApps("main", 0)).map((a) => a.id),
        ["ap-2", "ap-1"],
      );
      assert.deepEqual(await store.listApps("other", 0), []);
      assert.deepEqual(
        (await store.listDeployments("ap-1")).map((d) => [d.version, d.bundleBlobId, d.functions]),
        [
          [2, "bl-y", ["a"]],
          [1, "bl-x", ["a", "b"]],
        ],
      );
      assert.deepEqual(
        (await store.appFunctions("ap-1")).map((f) => [f.id, f.version, f.active]),
        [["fu-a", 2, true]],
      );
      assert.equal((await store.getFunctionByName("ap-1", "b"))?.active, false);
      store.updateApp("ap-2", "stopped", 1, 3000);
      assert.deepEqual(
        (await store.liveApps()).map((a) => a.id),
        ["ap-1"],
      );
      assert.deepEqual(
        (await store.listApps("main", 5000)).map((a) => a.id),
        ["ap-1"],
        "stopped apps listed only if created after `since`",
      );
      const inst = { id: "fu-a.abc", functionId: "fu-a", params: new Uint8Array([9, 8]), options: "{}", createdAt: 5 };
      store.insertClassInstance(inst);
      store.insertClassInstance({ ...inst, options: '{"x":1}' }); // a known id: no-op
      assert.deepEqual(await store.getClassInstance("fu-a.abc"), inst);
    });

    it("class instances unused since a time, with nothing pending on them, are dropped; used ones stay", async () => {
      const { store } = await make();
      const inst = (id: string) => ({
        id,
        functionId: "fu-a",
        params: new Uint8Array([1]),
        options: "{}",
        createdAt: 5,
      });
      for (const id of ["fu-a.used", "fu-a.idle", "fu-a.pending"]) store.insertClassInstance(inst(id));
      store.touchClassInstances(["fu-a.used", "fu-a.unknown"], 100);
      store.insertCall(call("fc-i", { functionId: "fu-a.pending" }), [input("fc-i")]);
      assert.equal(await store.forgetClassInstances(50, 10), 1);
      assert.equal(await store.getClassInstance("fu-a.idle"), undefined);
      assert.ok(await store.getClassInstance("fu-a.used"), "used since: kept");
      assert.ok(await store.getClassInstance("fu-a.pending"), "a pending call needs it to start again");
      store.completeCall("fc-i", "done", success(new Uint8Array([1])), 10, 20);
      assert.equal(await store.forgetClassInstances(50, 10), 1);
      assert.equal(await store.forgetClassInstances(200, 10), 1);
      assert.equal(await store.getClassInstance("fu-a.used"), undefined);
      store.insertClassInstance(inst("fu-a.used")); // bound again: written again
      assert.ok(await store.getClassInstance("fu-a.used"));
    });

    it("retention of apps: the newest deployments kept; stopped ephemeral apps forgotten once no live call needs them", async () => {
      const { store } = await make();
      store.insertApp(app("ap-d"));
      for (let v = 1; v <= 5; v++) {
        store.insertDeployment({ appId: "ap-d", version: v, bundleBlobId: `bl-v${v}`, functions: ["a"], createdAt: v });
        store.trimDeployments("ap-d", 3);
      }
      assert.deepEqual(
        (await store.listDeployments("ap-d")).map((d) => d.version),
        [5, 4, 3],
      );
      assert.deepEqual([...(await store.referencedBlobs(["bl-v1", "bl-v2", "bl-v3"]))], ["bl-v3"]);
      // Three ephemeral runs, stopped at 100, 200 and 300; the second still has a pending call.
      for (const [id, stoppedAt] of [
        ["ap-e1", 100],
        ["ap-e2", 200],
        ["ap-e3", 300],
      ] as const) {
        store.insertApp(app(id, { mode: "ephemeral", state: "running", ownerSession: "se-1" }));
        store.insertDeployment({ appId: id, version: 1, bundleBlobId: `bl-${id}`, functions: ["f"], createdAt: 1 });
        store.upsertFunction({
          id: `fu-${id}`,
          appId: id,
          name: "f",
          version: 1,
          spec: "{}",
          bundleBlobId: `bl-${id}`,
          active: true,
        });
        store.insertClassInstance({
          id: `fu-${id}.x`,
          functionId: `fu-${id}`,
          params: new Uint8Array([1]),
          options: "{}",
          createdAt: 1,
        });
        store.appendLogs([{ ts: 1, appId: id, stream: "stdout", text: `hello from ${id}` }]);
        store.updateApp(id, "stopped", 1, stoppedAt);
      }
      store.insertCall(call("fc-e2", { functionId: "fu-ap-e2", appId: "ap-e2" }), [input("fc-e2")]);
      store.insertCall(call("fc-e1", { functionId: "fu-ap-e1", appId: "ap-e1" }), [input("fc-e1")]);
      store.completeCall("fc-e1", "done", success(new Uint8Array([1])), 50, 60);
      await store.expireCalls(70); // an expired call needs nothing of its app
      assert.equal(await store.forgetApps(99, 10), 0, "none stopped that early");
      assert.equal(await store.forgetApps(1000, 10), 2, "e1 and e3; e2 has a pending call");
      for (const id of ["ap-e1", "ap-e3"]) {
        assert.equal(await store.getApp(id), undefined);
        assert.deepEqual(await store.listDeployments(id), []);
        assert.deepEqual(await store.appFunctions(id), []);
        assert.equal(await store.getClassInstance(`fu-${id}.x`), undefined);
        assert.deepEqual(await store.tailLogs(id, 10), []);
      }
      assert.deepEqual([...(await store.referencedBlobs(["bl-ap-e1", "bl-ap-e2", "bl-ap-e3"]))], ["bl-ap-e2"]);
      assert.equal((await store.getApp("ap-e2"))?.state, "stopped");
      assert.equal((await store.tailLogs("ap-e2", 10)).length, 1);
      assert.equal((await store.getApp("ap-d"))?.state, "deployed", "a deployed app is never forgotten");
      store.completeCall("fc-e2", "done", success(new Uint8Array([1])), 400, 500);
      assert.equal(await store.forgetApps(1000, 10), 0, "its call's result is still kept");
      await store.expireCalls(500);
      assert.equal(await store.forgetApps(1000, 10), 1);
      assert.equal(await store.getApp("ap-e2"), undefined);
    });

    it("tokens and secrets", async () => {
      const { store } = await make();
      assert.equal(await store.countAdminTokens(), 0);
      store.insertToken({ id: "tk-a", secretHash: "h1", kind: "admin", createdAt: 1 });
      store.insertToken({ id: "tk-b", secretHash: "h2", kind: "api", createdAt: 2 });
      assert.equal(await store.countAdminTokens(), 1);
      assert.deepEqual(await store.getToken("tk-b"), {
        id: "tk-b",
        secretHash: "h2",
        kind: "api",
        createdAt: 2,
        expiresAt: null,
        revokedAt: null,
        environment: null,
        apps: null,
      });
      assert.equal(await store.getToken("tk-none"), undefined);
      // Expiry is kept as given; a revocation is stamped once and listed with the token.
      store.insertToken({ id: "tk-c", secretHash: "h3", kind: "api", createdAt: 3, expiresAt: 1000 });
      store.revokeToken("tk-c", 50);
      store.revokeToken("tk-c", 60);
      const listed = await store.listTokens();
      assert.deepEqual(
        listed.map((t) => t.id),
        ["tk-a", "tk-b", "tk-c"],
      );
      assert.deepEqual(await store.getToken("tk-c"), {
        id: "tk-c",
        secretHash: "h3",
        kind: "api",
        createdAt: 3,
        expiresAt: 1000,
        revokedAt: 50,
        environment: null,
        apps: null,
      });
      // A scope is kept as given: the environment and the apps (a JSON array of names).
      store.insertToken({
        id: "tk-d",
        secretHash: "h4",
        kind: "api",
        createdAt: 4,
        environment: "dev",
        apps: '["a","b"]',
      });
      const scoped = await store.getToken("tk-d");
      assert.equal(scoped?.environment, "dev");
      assert.equal(scoped?.apps, '["a","b"]');
      assert.equal((await store.listTokens()).find((t) => t.id === "tk-d")?.environment, "dev");
      store.upsertSecret("main", "db", { USER: "u", PASS: "it's \\ 'quoted' \0" });
      store.upsertSecret("main", "db", { USER: "u2" });
      store.upsertSecret("dev", "db", { X: "1" });
      assert.deepEqual(await store.getSecret("main", "db"), { USER: "u2" });
      assert.deepEqual(
        (await store.listSecrets("main")).map((s) => [s.name, s.keys]),
        [["db", ["USER"]]],
      );
      assert.equal(await store.deleteSecret("main", "db"), true);
      assert.equal(await store.deleteSecret("main", "db"), false);
      assert.equal(await store.getSecret("main", "db"), undefined);
      assert.deepEqual(await store.getSecret("dev", "db"), { X: "1" });
    });

    it("blob grants: per token, renewed, trimmed to the newest, deleted with the token, durable", async () => {
      const { store, reopen } = await make();
      const base = 1_765_000_000_000_000; // epoch µs, as auth/stored-grants.ts writes them
      for (let i = 0; i < 6; i++) store.addBlobGrant("tk-a", `bl-${i}`, base + i);
      store.addBlobGrant("tk-b", "bl-0", base);
      assert.equal(await store.hasBlobGrant("tk-a", "bl-5"), true);
      assert.equal(await store.hasBlobGrant("tk-b", "bl-1"), false, "per token");
      // Granted again: its age renewed, so a trim keeps it.
      store.addBlobGrant("tk-a", "bl-0", base + 10);
      store.trimBlobGrants("tk-a", 3);
      const held = async (t: string) => {
        const out: string[] = [];
        for (let i = 0; i < 6; i++) if (await store.hasBlobGrant(t, `bl-${i}`)) out.push(`bl-${i}`);
        return out;
      };
      assert.deepEqual(await held("tk-a"), ["bl-0", "bl-4", "bl-5"]);
      store.trimBlobGrants("tk-a", 10); // fewer than that: nothing goes
      assert.deepEqual(await held("tk-a"), ["bl-0", "bl-4", "bl-5"]);
      assert.deepEqual(await held("tk-b"), ["bl-0"], "another token's are not trimmed");
      await store.flush();
      const again = await reopen();
      assert.deepEqual(await Promise.all(["bl-0", "bl-4", "bl-1"].map((b) => again.hasBlobGrant("tk-a", b))), [
        true,
        true,
        false,
      ]);
      store.deleteBlobGrants("tk-a");
      await store.flush();
      assert.equal(await store.hasBlobGrant("tk-a", "bl-5"), false);
      assert.equal(await store.hasBlobGrant("tk-b", "bl-0"), true);
    });

    it("environments: main exists, created ones listed by name, contents counted, deleted", async () => {
      const { store, reopen } = await make();
      assert.deepEqual(
        (await store.listEnvironments()).map((e) => e.name),
        ["main"],
      );
      store.insertEnvironment({ name: "dev", createdAt: 5 });
      store.insertEnvironment({ name: "dev", createdAt: 6 }); // already there: kept as it was
      await store.flush();
      assert.deepEqual(await store.getEnvironment("dev"), { name: "dev", createdAt: 5 });
      assert.equal(await store.getEnvironment("nope"), undefined);
      assert.deepEqual(await store.environmentContents("dev"), { apps: 0, objects: 0, secrets: 0 });
      store.upsertSecret("dev", "s", { K: "v" });
      store.insertApp({
        id: "ap-env",
        name: "a",
        environment: "dev",
        mode: "deployed",
        state: "deployed",
        version: 1,
        createdAt: 1,
        ownerSession: null,
      });
      assert.deepEqual(await store.environmentContents("dev"), { apps: 1, objects: 0, secrets: 1 });
      // A stopped app no longer holds its environment.
      store.updateApp("ap-env", "stopped", 1, 2);
      assert.deepEqual(await store.environmentContents("dev"), { apps: 0, objects: 0, secrets: 1 });
      await store.flush();
      assert.deepEqual(
        (await (await reopen()).listEnvironments()).map((e) => e.name),
        ["dev", "main"],
      );
      store.deleteEnvironment("dev");
      await store.flush();
      assert.equal(await store.getEnvironment("dev"), undefined);
    });

    it("logs: tail in order, capped by lines and by bytes per app", async () => {
      const { store } = await make();
      const line = (appId: string, i: number, text = `line ${i}`) => ({
        ts: i,
        appId,
        stream: "stdout" as const,
        text,
        ...(i % 2 ? { functionName: "f", inputId: `in-${i}`, containerId: "ct-1" } : {}),
      });
      store.appendLogs(Array.from({ length: 50 }, (_, i) => line("ap-1", i)));
      store.appendLogs([line("ap-2", 0)]);
      const tail = await store.tailLogs("ap-1", 3);
      assert.deepEqual(
        tail.map((e) => e.text),
        ["line 47", "line 48", "line 49"],
      );
      assert.equal(tail[0]!.functionName, "f");
      assert.equal(tail[1]!.functionName, undefined);
      store.trimLogs("ap-1", 10, 1 << 20);
      assert.equal((await store.tailLogs("ap-1", 100)).length, 10, "capped by lines");
      store.appendLogs(Array.from({ length: 20 }, (_, i) => line("ap-1", 100 + i, "x".repeat(1000))));
      store.trimLogs("ap-1", 10_000, 5500);
      const left = await store.tailLogs("ap-1", 100);
      assert.equal(left.length, 5, "capped by bytes: the newest 5 lines of 1000 bytes");
      assert.ok(left.every((e) => e.text.length === 1000));
      assert.equal((await store.tailLogs("ap-2", 100)).length, 1, "other apps untouched");
    });

    it("call graph: inputs of a call, children of an input, statuses, trimmed by age", async () => {
      const { store } = await make();
      store.insertGraphInput({
        inputId: "in-r",
        callId: "fc-r",
        parentInputId: null,
        functionName: "root",
        createdAt: 10,
      });
      store.insertGraphInput({
        inputId: "in-c1",
        callId: "fc-c",
        parentInputId: "in-r",
        functionName: "kid",
        createdAt: 11,
      });
      store.insertGraphInput({
        inputId: "in-c2",
        callId: "fc-c",
        parentInputId: "in-r",
        functionName: "kid",
        createdAt: 12,
      });
      store.insertGraphInput({
        inputId: "in-r",
        callId: "fc-r",
        parentInputId: null,
        functionName: "dup",
        createdAt: 10,
      });
      store.updateGraphInput("in-r", "ct-1", "pending");
      store.updateGraphInput("in-r", null, "success");
      store.updateGraphInput("in-c1", "ct-2", "failure");
      const roots = await store.graphInputsOfCall("fc-r");
      assert.deepEqual(roots, [
        { inputId: "in-r", functionCallId: "fc-r", functionName: "root", taskId: "ct-1", status: "success" },
      ]);
      assert.deepEqual(
        (await store.graphChildren("in-r")).map((r) => [r.inputId, r.status, r.taskId]),
        [
          ["in-c1", "failure", "ct-2"],
          ["in-c2", "pending", null],
        ],
      );
      store.trimGraph(12);
      assert.deepEqual(
        (await store.graphChildren("in-r")).map((r) => r.inputId),
        ["in-c2"],
      );
    });

    it("a failed commit rejects its flushes with StoreCommitError and loses only that window", async () => {
      const { store, reopen } = await make();
      const t = { id: "tk-dup", secretHash: "h", kind: "api" as const, createdAt: 1 };
      store.insertToken(t);
      await store.flush();
      store.insertCall(call("fc-lost"), [input("fc-lost")]);
      store.insertToken(t); // the same primary key again: the window's commit fails
      await assert.rejects(store.flush(), (e: Error) => e instanceof StoreCommitError);
      store.insertCall(call("fc-next"), [input("fc-next")]);
      await store.flush();
      const again = await reopen();
      assert.equal(await again.getCall("fc-lost"), undefined);
      assert.equal((await again.getCall("fc-next"))?.state, "pending");
    });
  });
}
