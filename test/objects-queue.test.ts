// Queues (api.md §7): every method, FIFO per partition, exactly one getter per item with many
// containers and clients, woken at once by a put, at-least-once across a lost connection,
// limits, partition TTL, kill -9, deletion while waiting, ephemeral queues.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeCbor, encodeCbor } from "@skiff/protocol";
import { Client, Function_, InvalidError, NotFoundError, Queue } from "skiff";
import type * as objectsApp from "./fixtures/objects-app.js";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";
import { freePort } from "./helpers/procs.js";
import { rawClient } from "./helpers/wire.js";

describe("Queue", () => {
  let server: ServerProcess;
  let client: Client;
  before(async () => {
    server = await startServer({
      args: ["--object-limits", "queueMaxItems=5000,queueMaxItemBytes=2000,queueMaxPartitions=20"],
    });
    client = server.client();
    const r = await skiff(["deploy", "test/fixtures/objects-app.ts"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => server.stop());

  it("refuses a misspelt option (a plain-JavaScript caller's typo) instead of ignoring it", async () => {
    const untyped = (o: object) => o as never;
    const q = Queue.fromName<number>("typos", { createIfMissing: true, client });
    // Ignored, `timeout` would make this get wait forever on the empty queue.
    await assert.rejects(
      q.get(untyped({ timeout: 10 })),
      (e: Error) =>
        e instanceof InvalidError && /get: unknown option "timeout" \(did you mean "timeoutMs"\?\)/.test(e.message),
    );
    await assert.rejects(q.put(1, untyped({ partiton: "p" })), /put: unknown option "partiton"/);
    await assert.rejects(q.putMany([1], untyped({ partiton: "p" })), /putMany: unknown option "partiton"/);
    await assert.rejects(q.getMany(2, untyped({ timeout: 10 })), /getMany: unknown option "timeout"/);
    await assert.rejects(q.len(untyped({ totl: true })), /len: unknown option "totl"/);
    await assert.rejects(q.clear(untyped({ everything: true })), /clear: unknown option "everything"/);
    await assert.rejects(q.iterate(untyped({ itemPollTimeout: 10 })).next(), /did you mean "itemPollTimeoutMs"/);
    assert.equal(await q.len({ total: true }), 0, "nothing was put by a refused call");
    // Ignored, `createIfMising` would end in a NotFoundError that hides the typo.
    assert.throws(
      () => Queue.fromName("typos2", untyped({ createIfMising: true, client })),
      (e: Error) => e instanceof InvalidError && /Queue\.fromName: unknown option "createIfMising"/.test(e.message),
    );
    assert.throws(
      () => Queue.ephemeral(untyped({ createIfMissing: true, client })),
      /Queue\.ephemeral: unknown option/,
    );
    await assert.rejects(
      Queue.delete("typos", untyped({ enviroment: "main", client })),
      /Queue\.delete: unknown option/,
    );
    assert.equal(await q.get({ timeoutMs: 10 }), undefined);
  });

  it("has every method of api.md §7: FIFO per partition, len, iterate, clear", async () => {
    const q = Queue.fromName<unknown>("methods", { createIfMissing: true, client });
    await q.put({ a: 1n, when: new Date(3) });
    await q.putMany([1, 2, 3]);
    await q.putMany(["x", "y"], { partition: "p" });
    assert.equal(await q.len(), 4);
    assert.equal(await q.len({ partition: "p" }), 2);
    assert.equal(await q.len({ total: true }), 6);
    assert.deepEqual(await q.get(), { a: 1n, when: new Date(3) });
    assert.deepEqual(await q.getMany(10), [1, 2, 3]);
    assert.equal(await q.get({ timeoutMs: 0 }), undefined);
    assert.deepEqual(await q.getMany(5, { timeoutMs: 0 }), []);
    assert.equal(await q.get({ partition: "p" }), "x");
    await q.putMany([10, 11, 12]);
    const seen: unknown[] = [];
    for await (const v of q.iterate()) seen.push(v);
    assert.deepEqual(seen, [10, 11, 12]);
    // iterate waits itemPollTimeoutMs for the next item.
    setTimeout(() => void q.put(13), 100);
    const late: unknown[] = [];
    for await (const v of q.iterate({ itemPollTimeoutMs: 3000 })) {
      late.push(v);
      break;
    }
    assert.deepEqual(late, [13]);
    await q.putMany([1, 2]);
    await q.clear();
    assert.equal(await q.len(), 0);
    assert.equal(await q.len({ partition: "p" }), 1);
    await q.put(1);
    await q.clear({ all: true });
    assert.equal(await q.len({ total: true }), 0);
  });

  it("a waiting get is woken by a put at once, not by polling", async () => {
    const q = Queue.fromName<number>("wake", { createIfMissing: true, client });
    await q.len(); // resolved: the get below is already waiting when the put lands
    for (let round = 0; round < 3; round++) {
      const got = q.get({ timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      await q.put(round);
      assert.equal(await got, round);
      const ms = performance.now() - t0;
      assert.ok(ms < 500, `woken ${ms.toFixed(0)} ms after the put`);
    }
    const t0 = performance.now();
    assert.equal(await q.get({ timeoutMs: 300 }), undefined);
    assert.ok(performance.now() - t0 >= 290, "a get with timeoutMs waits while empty");
  });

  it("gives each item to exactly one getter, with consumers in containers and clients at once", async () => {
    const consume = await Function_.lookup<typeof objectsApp.consume>("objects-app", "consume", { client });
    const q = Queue.fromName<number | "stop">("work", { createIfMissing: true, client });
    await q.clear();
    const N = 3000;
    const containerConsumers = Array.from({ length: 4 }, () => consume.remote("work", ""));
    const others = Array.from(
      { length: 3 },
      () => new Client({ serverUrl: server.url, ...server, environment: "main" }),
    );
    try {
      const clientConsumers = others.map(async (c) => {
        const mine = Queue.fromName<number | "stop">("work", { client: c });
        const got: number[] = [];
        for (;;) {
          const items = await mine.getMany(7, { timeoutMs: 30_000 });
          if (items.length === 0) throw new Error("no item for 30 s");
          const stops = items.filter((v) => v === "stop").length;
          for (const v of items) if (v !== "stop") got.push(v);
          if (stops > 0) {
            // One stop is this consumer's; the others go back for the rest.
            if (stops > 1) await mine.putMany(Array.from({ length: stops - 1 }, () => "stop" as const));
            return got;
          }
        }
      });
      for (let i = 0; i < N; i += 100) await q.putMany(Array.from({ length: 100 }, (_, j) => i + j));
      await q.putMany(Array.from({ length: 7 }, () => "stop" as const));
      const all = (await Promise.all([...containerConsumers, ...clientConsumers])).flat();
      assert.equal(all.length, N, `${all.length} items received`);
      assert.equal(new Set(all).size, N, "an item was received twice");
    } finally {
      for (const c of others) c.close();
    }
  });

  it("an item sent to a getter that never acknowledged it goes back to the front", async () => {
    const q = Queue.fromName<string>("lost", { createIfMissing: true, client });
    await q.putMany(["first", "second"]);
    const raw = await rawClient(server.url, { tokenId: server.tokenId, tokenSecret: server.tokenSecret });
    const { objectId } = (
      await raw.request("object.get", { kind: "queue", name: "lost", environment: "main", createIfMissing: false })
    ).r as { objectId: string };
    const r = await raw.request("queue.get", { objectId, partition: "", n: 1 });
    assert.ok(r.ok);
    assert.equal(await q.len(), 1, "leased to the raw getter");
    raw.drop(); // lost before it acknowledged
    await waitFor(async () => (await q.len()) === 2, "the item to come back");
    assert.deepEqual(await q.getMany(2), ["first", "second"]);
  });

  it("takes items as a byte string each (older clients) or one CBOR array, and refuses items that are not one data item each", async () => {
    const q = Queue.fromName<unknown>("wire", { createIfMissing: true, client });
    const raw = await rawClient(server.url, { tokenId: server.tokenId, tokenSecret: server.tokenSecret });
    try {
      const got = await raw.request("object.get", {
        kind: "queue",
        name: "wire",
        environment: "main",
        createIfMissing: true,
      });
      const { objectId, packed } = got.r as { objectId: string; packed?: boolean };
      assert.equal(packed, true, "the server says it takes items packed");
      const put = (p: Record<string, unknown>) => raw.request("queue.put", { objectId, partition: "", ...p });
      // An older client's put, read by this SDK (packed), and the SDK's put read the older way.
      assert.ok((await put({ values: [encodeCbor({ a: 1 }), encodeCbor("x")] })).ok);
      assert.deepEqual(await q.getMany(10), [{ a: 1 }, "x"]);
      await q.putMany([new Map([[1, 2n]]), [3]]);
      const old = await raw.request("queue.get", { objectId, partition: "", n: 10 });
      const { values, leaseId } = old.r as { values: Uint8Array[]; leaseId: number };
      assert.deepEqual(values.map(decodeCbor), [new Map([[1, 2n]]), [3]]);
      assert.equal(typeof leaseId, "number");
      // Refused, each with a clear message, nothing added: a cut item, two items in one value,
      // a tag that refers to another item, an array with bytes left over, not an array.
      const refusals: [Record<string, unknown>, RegExp][] = [
        [{ values: [encodeCbor(1), Uint8Array.of(0x82, 0x01)] }, /values\[1\] is not one well-formed CBOR data item/],
        [{ values: [Uint8Array.of(0x01, 0x02)] }, /values\[0\] holds more than one CBOR data item/],
        [{ values: [Uint8Array.of(0xd8, 0x1d, 0x00)] }, /values\[0\] uses a CBOR tag that refers to other items/],
        [{ items: Uint8Array.of(0x81, 0x01, 0x02) }, /items has 1 bytes after its 1 items/],
        [{ items: Uint8Array.of(0x82, 0x01, 0xff) }, /values\[1\] is not one well-formed CBOR data item/],
        [{ items: encodeCbor("x") }, /items must be a CBOR array/],
        [{ items: encodeCbor([]) }, /at least one item/],
        [{}, /values must be a non-empty array/],
      ];
      for (const [p, message] of refusals) {
        const r = await put(p);
        assert.equal(r.ok, false, `${JSON.stringify(p)} was accepted`);
        assert.match(r.error!.message, message);
      }
      assert.equal(await q.len(), 0, "nothing was added");
    } finally {
      raw.drop();
    }
  });

  it("refuses a full partition, an item over the size limit and a partition too many, adding nothing", async () => {
    const q = Queue.fromName<unknown>("limits", { createIfMissing: true, client });
    await q.putMany(Array.from({ length: 4998 }, (_, i) => i));
    await assert.rejects(q.putMany([1, 2, 3]), (e: Error) => {
      assert.ok(e instanceof InvalidError);
      assert.match(e.message, /Queue "limits" is full: it holds 4998 items and 3 more would pass the limit of 5000/);
      return true;
    });
    assert.equal(await q.len(), 4998);
    await q.putMany([1, 2]);
    await assert.rejects(q.put(3), /is full/);
    await q.clear();
    await assert.rejects(
      q.putMany([1, "x".repeat(3000)]),
      /item 1 is 300\d bytes, over the Queue item limit of 2000 bytes/,
    );
    assert.equal(await q.len(), 0);
    // The default partition is one of the 20.
    for (let i = 0; i < 19; i++) await q.put(i, { partition: `p${i}` });
    await assert.rejects(q.put(1, { partition: "one-more" }), /has 20 partitions, the limit/);
    assert.equal(await q.len({ partition: "one-more" }), 0);
    await assert.rejects(
      q.put(() => 1),
      /values\[0\] is a function/,
    );
    await assert.rejects(q.put(1, { partition: "p".repeat(65) }), /partition must be a string of at most 64/);
    await assert.rejects(q.put(1, { partition: "a\0b" }), /partition contains a NUL character/);
    await assert.rejects(q.getMany(0), /n must be a positive integer/);
    await assert.rejects(Queue.fromName("nope", { client }).put(1), /Queue "nope" not found/);
  });

  it("a get waiting on a deleted queue fails naming it; an ephemeral queue ends with its app", async () => {
    const q = Queue.fromName<number>("doomed-q", { createIfMissing: true, client });
    const waiting = q.get({ timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    await Queue.delete("doomed-q", { client });
    await assert.rejects(waiting, (e: Error) => e instanceof NotFoundError && /doomed-q/.test(e.message));
    await assert.rejects(q.put(1), /Queue "doomed-q" no longer exists/);

    const r = await skiff(["run", "test/fixtures/objects-app.ts::ephemeralQueue"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    const id = /qu-[0-9a-f]+/.exec(r.stdout)?.[0];
    assert.ok(id, r.stdout);
    // `skiff run` stopped its app: the queue its container made is gone.
    await waitFor(
      async () =>
        /no longer exists/.test(
          String(await client.request("queue.len", { objectId: id, partition: "", total: true }).catch((e) => e)),
        ),
      "the ephemeral queue to be deleted",
    );
  });
});

describe("Queue durability and lifetime", () => {
  it("keeps acknowledged puts and unacknowledged gets across a server kill -9", async () => {
    const port = await freePort();
    let server = await startServer({ args: ["--port", String(port)] });
    try {
      const q = Queue.fromName<number>("durable-q", { createIfMissing: true, client: server.client() });
      await q.putMany(Array.from({ length: 1000 }, (_, i) => i));
      assert.deepEqual(await q.getMany(10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // A getter that received one item but never acknowledged it.
      const raw = await rawClient(server.url, { tokenId: server.tokenId, tokenSecret: server.tokenSecret });
      const { r } = (await raw.request("object.get", {
        kind: "queue",
        name: "durable-q",
        environment: "main",
        createIfMissing: false,
      })) as { r: { objectId: string } };
      assert.ok((await raw.request("queue.get", { objectId: r.objectId, partition: "", n: 1 })).ok);
      await Promise.all(Array.from({ length: 50 }, (_, i) => q.put(1000 + i)));
      await server.kill();
      server = await startServer({
        args: ["--port", String(port)],
        home: server.home,
        dataDir: server.dataDir,
        token: server,
      });
      const again = Queue.fromName<number>("durable-q", { client: server.client() });
      assert.equal(await again.len(), 1040);
      const items = await again.getMany(10_000);
      assert.equal(items[0], 10, "the unacknowledged item is back at the front");
      assert.deepEqual(
        [...items.slice(-50)].sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => 1000 + i),
      );
      assert.equal(new Set(items).size, 1040);
    } finally {
      await server.stop();
    }
  });

  it("answers a get with at most 32 MiB of items, however many it asked for", async () => {
    // 70 items of ~1 MB: all of them in one reply would pass the 65 MiB frame limit, which the
    // client refuses; the items would go back and come again, forever.
    const server = await startServer();
    try {
      const q = Queue.fromName<Uint8Array>("big-q", { createIfMissing: true, client: server.client() });
      const item = (i: number) => new Uint8Array(1_000_000).fill(i);
      for (let i = 0; i < 70; i += 25)
        await q.putMany(Array.from({ length: Math.min(25, 70 - i) }, (_, j) => item(i + j)));
      const first = await q.getMany(100);
      assert.equal(first.length, 33, "as many as fit in 32 MiB");
      assert.equal(await q.len(), 37, "the rest went back at once");
      const rest = [...(await q.getMany(100)), ...(await q.getMany(100))];
      assert.deepEqual(
        [...first, ...rest].map((v) => v[0]),
        Array.from({ length: 70 }, (_, i) => i),
        "in order",
      );
    } finally {
      await server.stop();
    }
  });

  it("clears a partition idle past its TTL", async () => {
    const server = await startServer({ args: ["--object-limits", "queuePartitionTtlMs=1000"] });
    try {
      const q = Queue.fromName<number>("ttl-q", { createIfMissing: true, client: server.client() });
      await q.putMany([1, 2, 3]);
      const t0 = Date.now();
      await waitFor(async () => (await q.len()) === 0, "the idle partition to be cleared");
      assert.ok(Date.now() - t0 >= 900, `cleared after ${Date.now() - t0} ms, before its TTL`);
    } finally {
      await server.stop();
    }
  });
});
