// Dicts (api.md §7): every method from a client and from containers, types kept, durability
// across kill -9, skipIfExists under concurrency, idle TTL, names per environment, ephemeral
// Dicts, and each bad input.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AuthError, Client, Dict, Function_, InvalidError, NotFoundError } from "skiff";
import type * as objectsApp from "./fixtures/objects-app.js";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";
import { freePort } from "./helpers/procs.js";

describe("Dict", () => {
  let server: ServerProcess;
  let client: Client;
  before(async () => {
    server = await startServer({ args: ["--object-limits", "dictMaxValueBytes=3000000"] });
    client = server.client();
    const r = await skiff(["deploy", "test/fixtures/objects-app.ts"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => server.stop());

  it("has every method of api.md §7, and values keep their JavaScript types", async () => {
    const d = Dict.fromName<string | number | bigint, unknown>("methods", { createIfMissing: true, client });
    const value = { n: 1.5, big: 2n ** 70n, when: new Date(1234), bytes: new Uint8Array([1, 2]), list: [null, "x"] };
    assert.equal(await d.put("a", value), true);
    assert.deepEqual(await d.get("a"), value);
    assert.equal(await d.get("missing"), undefined);
    assert.equal(await d.get("missing", "fallback"), "fallback");
    assert.equal(await d.has("a"), true);
    assert.equal(await d.has("missing"), false);
    // Keys keep their type: 5, 5n and "5" are three keys.
    await d.put(5, "number");
    await d.put(5n, "bigint");
    await d.put("5", "string");
    assert.equal(await d.get(5), "number");
    assert.equal(await d.get(5n), "bigint");
    assert.equal(await d.get("5"), "string");
    await d.update({ u1: 1, u2: 2 });
    await d.update(new Map<string | number | bigint, unknown>([[-1, "m"]]));
    assert.equal(await d.len(), 7);
    const keys: unknown[] = [];
    for await (const k of d.keys()) keys.push(k);
    assert.deepEqual(new Set(keys), new Set(["a", 5, 5n, "5", "u1", "u2", -1]));
    const items = new Map<unknown, unknown>();
    for await (const [k, v] of d.items()) items.set(k, v);
    assert.equal(items.get(5n), "bigint");
    assert.deepEqual(items.get("a"), value);
    const values: unknown[] = [];
    for await (const v of d.values()) values.push(v);
    assert.equal(values.length, 7);
    assert.equal(await d.delete("u1"), true);
    assert.equal(await d.delete("u1"), false);
    assert.equal(await d.pop("u2"), 2);
    assert.equal(await d.pop("u2"), undefined);
    assert.equal(await d.pop("u2", "none"), "none");
    await d.clear();
    assert.equal(await d.len(), 0);
  });

  it("pages keys() through more entries than one page, and carries a large value through the blob store", async () => {
    const d = Dict.fromName<number, number>("many", { createIfMissing: true, client });
    const entries = Array.from({ length: 2500 }, (_, i) => [i, i * 2] as const);
    await d.update(entries);
    let n = 0;
    for await (const [k, v] of d.items()) {
      assert.equal(v, k * 2);
      n++;
    }
    assert.equal(n, 2500);
    const big = Dict.fromName<string, Uint8Array>("big", { createIfMissing: true, client });
    const bytes = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251);
    await big.put("blob", bytes);
    assert.deepEqual(await big.get("blob"), bytes);
  });

  it("is shared between containers and clients, across apps", async () => {
    const fill = await Function_.lookup<typeof objectsApp.fill>("objects-app", "fill", { client });
    assert.equal(await fill.remote("shared"), 3);
    const d = Dict.fromName("shared", { client });
    assert.deepEqual(await d.get("date"), new Date(0));
    assert.deepEqual(await d.get(7n), { nested: [1, "two", new Uint8Array([3])] });
    assert.deepEqual(await d.get(1.5), new Map([["a", 1]]));
  });

  it("with skipIfExists, exactly one of many concurrent puts from containers and clients wins", async () => {
    const claim = await Function_.lookup<typeof objectsApp.claim>("objects-app", "claim", { client });
    const clients = Array.from(
      { length: 4 },
      () => new Client({ ...server, environment: "main", serverUrl: server.url }),
    );
    try {
      const fromContainers = Array.from({ length: 8 }, (_, i) => claim.remote("race", i));
      const fromClients = clients.flatMap((c, j) =>
        Array.from({ length: 4 }, (_, i) =>
          Dict.fromName("race", { createIfMissing: true, client: c }).put("winner", 100 + j * 4 + i, {
            skipIfExists: true,
          }),
        ),
      );
      const results = await Promise.all([...fromContainers, ...fromClients]);
      const winners = results.map((won, i) => (won ? (i < 8 ? i : 100 + i - 8) : -1)).filter((w) => w >= 0);
      assert.equal(winners.length, 1, `winners: ${winners}`);
      assert.equal(await Dict.fromName("race", { client }).get("winner"), winners[0]);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it("names each bad input clearly and writes nothing", async () => {
    await assert.rejects(Dict.fromName("no-such-dict", { client }).get("k"), (e: Error) => {
      assert.ok(e instanceof NotFoundError);
      assert.match(e.message, /Dict "no-such-dict" not found in environment "main"/);
      return true;
    });
    const d = Dict.fromName<string, unknown>("bad-input", { createIfMissing: true, client });
    await d.put("ok", 1);
    for (const key of [{}, null, Number.NaN, Number.POSITIVE_INFINITY, true, Symbol("s")])
      await assert.rejects(d.put(key as never, 1), /Dict key must be a string, a finite number or a bigint/);
    await assert.rejects(d.put("f", { deep: [() => 1] }), (e: Error) => {
      assert.ok(e instanceof InvalidError);
      assert.match(e.message, /value\.deep\[0\]/);
      return true;
    });
    await assert.rejects(d.put("huge", new Uint8Array(3_100_000)), /over the Dict value limit of 3000000 bytes/);
    await assert.rejects(d.update({ a: 1, b: () => 2 }), /entries\[1\]\.value/);
    // A misspelt option (from plain JavaScript) is refused, not ignored: this put would overwrite.
    await assert.rejects(
      d.put("ok", 2, { skipIfExist: true } as never),
      (e: Error) =>
        e instanceof InvalidError &&
        /put: unknown option "skipIfExist" \(did you mean "skipIfExists"\?\)/.test(e.message),
    );
    assert.equal(await d.get("ok"), 1, "the refused put wrote nothing");
    assert.throws(
      () => Dict.fromName("bad-input", { createIfMising: true, client } as never),
      /Dict\.fromName: unknown option/,
    );
    // Keys each store keeps exactly, or a clear error on both (Postgres text holds no NUL).
    await assert.rejects(d.put("nul\0key", 1), (e: Error) => {
      assert.ok(e instanceof InvalidError);
      assert.match(e.message, /key contains a NUL character/);
      return true;
    });
    await assert.rejects(
      d.update([
        ["a", 1],
        ["lone\uD800", 2],
      ]),
      /Dict key contains a lone UTF-16 surrogate/,
    );
    await d.put("pair \u{1F600}", 1); // a surrogate pair is fine
    assert.equal(await d.get("pair \u{1F600}"), 1);
    await d.delete("pair \u{1F600}");
    assert.equal(await d.has("f"), false);
    assert.equal(await d.has("huge"), false);
    assert.equal(await d.has("a"), false);
    assert.equal(await d.len(), 1);
    assert.throws(() => Dict.fromName("../etc"), /invalid name/);
  });

  it("a name is one object per environment; a Dict's name used as a Queue is an error", async () => {
    await assert.rejects(
      Dict.fromName("per-env", { createIfMissing: true, client, environment: "other" }).len(),
      /environment "other" does not exist: create it with `skiff environment create other`/,
    );
    await client.request("environment.create", { name: "other" });
    const main = Dict.fromName("per-env", { createIfMissing: true, client });
    const other = Dict.fromName("per-env", { createIfMissing: true, client, environment: "other" });
    await main.put("k", "main");
    await other.put("k", "other");
    assert.equal(await main.get("k"), "main");
    assert.equal(await other.get("k"), "other");
    const { Queue } = await import("skiff");
    await assert.rejects(Queue.fromName("per-env", { client }).len(), /"per-env" is a Dict, not a Queue/);
  });

  it("a container reaches only its own environment's objects; a web token reaches none", async () => {
    const other = await Function_.lookup<typeof objectsApp.otherEnvironment>("objects-app", "otherEnvironment", {
      client,
    });
    await assert.rejects(
      other.remote(),
      /a container of environment "main" cannot reach objects of environment "other"/,
    );
    const web = await client.request("token.create", { kind: "web" });
    const webClient = new Client({ serverUrl: server.url, ...web, environment: "main" });
    try {
      await assert.rejects(Dict.fromName("per-env", { client: webClient }).get("k"), AuthError);
    } finally {
      webClient.close();
    }
  });

  it("deleting a Dict in use fails the next operation clearly; an ephemeral Dict ends with its scope", async () => {
    const d = Dict.fromName("doomed", { createIfMissing: true, client });
    await d.put("k", 1);
    await Dict.delete("doomed", { client });
    await assert.rejects(d.get("k"), /Dict "doomed" no longer exists: it was deleted/);
    await assert.rejects(Dict.delete("doomed", { client }), NotFoundError);
    let id: string;
    {
      await using e = Dict.ephemeral<string, number>({ client });
      await e.put("x", 1);
      assert.equal(await e.get("x"), 1);
      id = await e.objectId();
    }
    const gone = await client.request("dict.len", { objectId: id }).catch((err: Error) => err);
    assert.match(String(gone), /no longer exists/);
  });

  it("skiff dict|queue|volume create, list and delete; Volume.ephemeral and Volume.delete from code", async () => {
    for (const kind of ["dict", "queue", "volume"]) {
      const name = `cli-${kind}`;
      let r = await skiff([kind, "create", name], { env: server.env });
      assert.equal(r.code, 0, r.stderr);
      r = await skiff([kind, "create", name], { env: server.env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`"${name}" already exists in environment "main"`));
      r = await skiff([kind, "list"], { env: server.env });
      assert.match(r.stdout, new RegExp(`^${name}\\s`, "m"));
      for (const other of ["dict", "queue", "volume"].filter((k) => k !== kind))
        assert.doesNotMatch((await skiff([other, "list"], { env: server.env })).stdout, new RegExp(name));
      r = await skiff([kind, "delete", name], { env: server.env });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch((await skiff([kind, "list"], { env: server.env })).stdout, new RegExp(name));
      r = await skiff([kind, "delete", name], { env: server.env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not found/);
    }
    const { Volume } = await import("skiff");
    const named = Volume.fromName("code-vol", { createIfMissing: true, client });
    await named.writeFile("a.txt", new TextEncoder().encode("hi"));
    await Volume.delete("code-vol", { client });
    await assert.rejects(named.listFiles("/"), /no longer exists/);
    let id: string;
    {
      await using v = Volume.ephemeral({ client });
      await v.writeFile("e.txt", new TextEncoder().encode("eph"));
      assert.deepEqual(
        (await v.listFiles("/")).map((f) => f.path),
        ["e.txt"],
      );
      id = await v.objectId();
    }
    const gone = await client
      .request("volume.list", { objectId: id, path: "/", recursive: false })
      .catch((err: Error) => err);
    assert.match(String(gone), /no longer exists/);
  });
});

describe("Dict durability and lifetime", () => {
  it("keeps every acknowledged put across a server kill -9", async () => {
    const port = await freePort();
    let server = await startServer({ args: ["--port", String(port)] });
    try {
      const d = Dict.fromName<number, string>("durable", { createIfMissing: true, client: server.client() });
      const N = 500;
      await Promise.all(Array.from({ length: N }, (_, i) => d.put(i, `v${i}`)));
      await server.kill();
      server = await startServer({
        args: ["--port", String(port)],
        home: server.home,
        dataDir: server.dataDir,
        token: server,
      });
      const again = Dict.fromName<number, string>("durable", { client: server.client() });
      assert.equal(await again.len(), N);
      for (const i of [0, 1, N / 2, N - 1]) assert.equal(await again.get(i), `v${i}`);
    } finally {
      await server.stop();
    }
  });

  it("drops entries idle past the TTL, and a read keeps one alive", async () => {
    const server = await startServer({ args: ["--object-limits", "dictIdleTtlMs=1500"] });
    try {
      const d = Dict.fromName<string, number>("ttl", { createIfMissing: true, client: server.client() });
      await d.put("idle", 1);
      await d.put("read", 2);
      const t0 = Date.now();
      await waitFor(async () => {
        assert.equal(await d.get("read"), 2, "an entry read every 100 ms stays");
        await new Promise((r) => setTimeout(r, 100));
        // len() reads no entry, so it keeps none alive.
        return (await d.len()) === 1;
      }, "the idle entry to be dropped");
      assert.ok(Date.now() - t0 >= 1400, `dropped after ${Date.now() - t0} ms, before its TTL`);
      assert.equal(await d.get("read"), 2);
      assert.equal(await d.has("idle"), false);
    } finally {
      await server.stop();
    }
  });
});

describe("object limits", () => {
  let server: ServerProcess;
  let client: Client;
  before(async () => {
    server = await startServer({ args: ["--object-limits", "dictMaxEntries=5,maxObjectsPerEnvironment=3"] });
    client = server.client();
  });
  after(() => server.stop());

  it("a Dict holds at most dictMaxEntries: a new key past it fails clearly, overwrites still pass", async () => {
    const d = Dict.fromName<string, number>("bounded", { createIfMissing: true, client });
    await d.update({ a: 1, b: 2, c: 3, d: 4 });
    await d.put("e", 5);
    await assert.rejects(d.put("f", 6), (e: Error) => {
      assert.match(e.message, /Dict "bounded" holds 5 entries, and 1 new key\(s\) would pass its limit of 5/);
      assert.match(e.message, /dictMaxEntries/);
      return true;
    });
    await assert.rejects(d.update({ a: 10, g: 7 }), /would pass its limit of 5/);
    assert.equal(await d.get("a"), 1, "nothing of the refused update was written");
    await d.put("a", 100); // an overwrite adds no entry
    await d.update({ b: 200, c: 300 });
    assert.equal(await d.get("a"), 100);
    await d.delete("e");
    await d.put("f", 6); // room again
    assert.equal(await d.len(), 5);
  });

  it("an environment holds at most maxObjectsPerEnvironment objects, named and ephemeral", async () => {
    const { Queue } = await import("skiff");
    // "bounded" from the test above is the first.
    await Queue.fromName("q1", { createIfMissing: true, client }).len();
    await Dict.fromName("d2", { createIfMissing: true, client }).len();
    await assert.rejects(Dict.fromName("d3", { createIfMissing: true, client }).len(), (e: Error) => {
      assert.match(e.message, /environment "main" holds 3 objects, the limit/);
      assert.match(e.message, /maxObjectsPerEnvironment/);
      return true;
    });
    await assert.rejects(
      (async () => {
        await using q = Queue.ephemeral({ client });
        await q.len();
      })(),
      /holds 3 objects/,
    );
    await Dict.fromName("d2", { client }).len(); // a known name still resolves
    await client.request("environment.create", { name: "other" });
    await Dict.fromName("x", { createIfMissing: true, client, environment: "other" }).len(); // per environment
    await Dict.delete("d2", { client });
    await Dict.fromName("d3", { createIfMissing: true, client }).len(); // room again
  });
});
