// Hot-path tuples (protocol hot.ts) end to end: a client and a container runtime that speak
// them, and ones that do not (as from before them), against one server, every pairing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeCbor, encodeFrame, encodePayload, HOT_FRAMES_VERSION } from "@skiff/protocol";
import { type Client, Cls, Function_ } from "skiff";
import WebSocket from "ws";
import type * as hotApp from "./fixtures/hot-app.js";
import { type ServerProcess, skiff, startServer } from "./helpers/cli.js";

/** A client made while SKIFF_HOT_FRAMES is `value` (unset: the default). */
function clientWith(server: ServerProcess, value: string | undefined): Client {
  const before = process.env.SKIFF_HOT_FRAMES;
  if (value === undefined) delete process.env.SKIFF_HOT_FRAMES;
  else process.env.SKIFF_HOT_FRAMES = value;
  try {
    return server.client();
  } finally {
    if (before === undefined) delete process.env.SKIFF_HOT_FRAMES;
    else process.env.SKIFF_HOT_FRAMES = before;
  }
}

/** A raw WebSocket peer: sends frames, reads each frame's CBOR as it came (no tuple expanded). */
async function rawPeer(url: string) {
  const ws = new WebSocket(`${url.replace("http", "ws")}/v1/ws`);
  const frames: unknown[][] = [];
  const waiters: ((f: unknown[]) => void)[] = [];
  ws.on("message", (d: Buffer) => {
    const f = decodeCbor(d) as unknown[];
    const w = waiters.shift();
    if (w) w(f);
    else frames.push(f);
  });
  await new Promise((r, j) => ws.once("open", r).once("error", j));
  return {
    ws,
    send: (msgs: unknown[]) => ws.send(encodeFrame(msgs as never)),
    next: () => new Promise<unknown[]>((r) => (frames.length > 0 ? r(frames.shift()!) : waiters.push(r))),
  };
}

describe("hot-path tuples between new and old peers", () => {
  let server: ServerProcess;
  let squareId: string;
  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/hot-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    squareId = (await Function_.lookup("hot-app", "square", { client: server.client() })).objectId;
  });
  after(() => server.stop());

  for (const [who, value] of [
    ["a client that speaks them", undefined],
    ["a client from before them (objects only)", "0"],
  ] as const) {
    it(`${who}: calls reach new and old runtimes, nested calls and failures included`, async () => {
      const client = clientWith(server, value);
      const fn = <K extends keyof typeof hotApp>(name: K) =>
        Function_.fromName<(typeof hotApp)[K] extends Function_<infer F> ? Function_<F> : never>("hot-app", name, {
          client,
        });
      for (let i = 0; i < 3; i++) {
        assert.equal(await fn("square").remote(i + 7), (i + 7) ** 2);
        assert.equal(await fn("squareOld").remote(i + 7), (i + 7) ** 2);
      }
      assert.deepEqual(await fn("nested").remote(5), [25, 25, 1]);
      assert.deepEqual(await fn("nestedOld").remote(6), [36, 36, 1]);
      await assert.rejects(fn("fails").remote("boom"), /boom/);
      await assert.rejects(fn("failsOld").remote("bang"), /bang/);
      // 2 MiB: the outcome is a blob reference (not a tuple), read back as usual.
      const b = await fn("big").remote(2 * 1024 * 1024);
      assert.equal(b.byteLength, 2 * 1024 * 1024);
      assert.equal(b[b.length - 1], 7);
      // A spawn is no tuple either.
      assert.equal(await (await fn("square").spawn(3)).get(), 9);
      const Calc = await Cls.lookup<typeof hotApp.Calc>("hot-app", "Calc", { client });
      assert.equal(await Calc.instance().twice.remote(21), 42);
      // Concurrent calls: each outcome reaches its own caller.
      const xs = Array.from({ length: 50 }, (_, i) => i);
      assert.deepEqual(
        await Promise.all(xs.map((x) => fn("square").remote(x))),
        xs.map((x) => x * x),
      );
      client.close();
    });
  }

  const hello = (extra: Record<string, unknown>) => ({
    t: "hello",
    id: 1,
    p: { v: 1, tokenId: server.tokenId, tokenSecret: server.tokenSecret, role: "client", ...extra },
  });

  it("a peer that offers no tuples is answered with objects; one that offers them, with tuples", async () => {
    const args = encodePayload([4], "args");
    // From before the tuples: hello without `hot`, a call as an object, its outcome as an object.
    const old = await rawPeer(server.url);
    old.send([hello({})]);
    const [helloReply] = (await old.next()) as { ok: boolean; r: Record<string, unknown> }[];
    assert.equal(helloReply!.ok, true);
    assert.equal("hot" in helloReply!.r, false);
    old.send([
      {
        t: "call.create",
        id: 2,
        p: { functionId: squareId, kind: "remote", args, idempotencyKey: "old-1", await: true },
      },
    ]);
    const [reply] = (await old.next()) as { t: string; id: number; r: { outcome: { kind: string } } }[];
    assert.equal(reply!.t, "reply");
    assert.equal(reply!.id, 2);
    assert.equal(reply!.r.outcome.kind, "result");
    old.ws.close();

    // Speaks them: the server agrees on its version, takes a call tuple and answers with one.
    const hot = await rawPeer(server.url);
    hot.send([hello({ hot: HOT_FRAMES_VERSION + 3 })]);
    const [agreed] = (await hot.next()) as { r: { hot?: number } }[];
    assert.equal(agreed!.r.hot, HOT_FRAMES_VERSION);
    hot.send([[1, 7, squareId, args, "hot-1"]]);
    const [tuple] = (await hot.next()) as unknown[][];
    assert.ok(Array.isArray(tuple), `an outcome tuple, got ${JSON.stringify(tuple)}`);
    assert.equal(tuple[0], 2);
    assert.equal(tuple[1], 7);
    assert.match(String(tuple[2]), /^fc-/);
    assert.deepEqual(decodeCbor(tuple[3] as Uint8Array), 16);
    // A malformed tuple closes the connection as a protocol error, like any malformed frame.
    const closed = new Promise<number>((r) => hot.ws.once("close", (code) => r(code)));
    hot.send([[1, "seven", squareId, args, "hot-2"]]);
    assert.equal(await closed, 1002);

    // A tuple from a peer that did not agree on them is refused, as before them.
    const sneaky = await rawPeer(server.url);
    sneaky.send([hello({})]);
    await sneaky.next();
    const gone = new Promise<number>((r) => sneaky.ws.once("close", (code) => r(code)));
    sneaky.send([[1, 8, squareId, args, "sneaky-1"]]);
    assert.equal(await gone, 1002);
  });
});
