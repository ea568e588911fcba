// Hostile and malformed input on the wire: the connection is closed, the server stays up.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodeFrame, PROTOCOL_VERSION } from "@skiff/protocol";
import { encode } from "cbor-x";
import { Function_ } from "skiff";
import WebSocket from "ws";
import { type ServerProcess, startServer } from "./helpers/cli.js";
import { rssKiB } from "./helpers/procs.js";

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/v1/ws`, {
      maxPayload: 200 * 1024 * 1024,
    });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

function nextFrame(ws: WebSocket): Promise<unknown[]> {
  return new Promise((resolve) =>
    ws.once("message", (d: Buffer) =>
      resolve((globalThis as unknown as { __decode: (b: Buffer) => unknown[] }).__decode(d)),
    ),
  );
}

describe("wire protocol hardening", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
    const { decodeFrame } = await import("@skiff/protocol");
    (globalThis as unknown as { __decode: unknown }).__decode = decodeFrame;
  });
  after(() => server.stop());

  const hello = (extra: Record<string, unknown> = {}) =>
    encodeFrame([
      {
        t: "hello",
        id: 1,
        p: {
          v: PROTOCOL_VERSION,
          tokenId: server.tokenId,
          tokenSecret: server.tokenSecret,
          role: "client",
          ...extra,
        },
      } as never,
    ]);

  async function stillServing(): Promise<void> {
    const apps = await server.client().request("app.list", { environment: "main" });
    assert.ok(Array.isArray(apps.apps));
  }

  it("closes a connection that sends bytes that are not CBOR", async () => {
    const ws = await open(server.url);
    const c = closed(ws);
    ws.send(Buffer.from([0xff, 0xfe, 0x00, 0x12, 0x99]));
    const { code, reason } = await c;
    assert.equal(code, 1002);
    assert.match(reason, /not valid CBOR|must be an array/);
    await stillServing();
  });

  it("closes on a text frame, a non-array frame, a truncated frame, and a first message that is not hello", async () => {
    for (const bad of [
      () => "hello",
      () => encode({ t: "hello" }),
      () => encodeFrame([{ t: "app.list", id: 1, p: {} } as never]),
      () => hello().slice(0, 17), // cut off in the middle of the hello
    ]) {
      const ws = await open(server.url);
      const c = closed(ws);
      ws.send(bad());
      assert.equal((await c).code, 1002);
    }
    await stillServing();
  });

  it("refuses an unknown protocol version and a wrong token", async () => {
    const ws = await open(server.url);
    const c = closed(ws);
    ws.send(hello({ v: 99 }));
    const [reply] = (await nextFrame(ws)) as {
      ok: boolean;
      error: { code: string; message: string };
    }[];
    assert.equal(reply!.ok, false);
    assert.equal(reply!.error.code, "protocol");
    assert.match(reply!.error.message, /protocol version 99 is not supported/);
    assert.equal((await c).code, 1002);
    const ws2 = await open(server.url);
    const c2 = closed(ws2);
    ws2.send(hello({ tokenSecret: "nope" }));
    assert.equal((await c2).code, 4401);
    await stillServing();
  });

  it("closes a connection that sends an oversized frame", async () => {
    const ws = await open(server.url);
    const c = closed(ws);
    // Authenticated first: masking 66 MiB can take longer than the hello deadline on a busy host.
    ws.send(hello());
    await nextFrame(ws);
    ws.send(Buffer.alloc(66 * 1024 * 1024));
    assert.equal((await c).code, 1009);
    await stillServing();
  });

  it("answers bad requests with an error and keeps the connection", async () => {
    const ws = await open(server.url);
    ws.send(hello());
    await nextFrame(ws);
    ws.send(
      encodeFrame([
        { t: "no.such", id: 2, p: {} } as never,
        { t: "call.create", id: 3, p: { functionId: 5 } } as never,
      ]),
    );
    const replies = (await nextFrame(ws)) as {
      id: number;
      ok: boolean;
      error: { code: string; message: string };
    }[];
    assert.equal(replies.length, 2);
    assert.match(replies[0]!.error.message, /unknown request type "no.such"/);
    assert.equal(replies[1]!.error.code, "invalid_argument");
    assert.match(replies[1]!.error.message, /functionId must be a non-empty string/);
    ws.send(encodeFrame([{ t: "app.list", id: 4, p: { environment: "main" } } as never]));
    const [ok] = (await nextFrame(ws)) as { ok: boolean }[];
    assert.equal(ok!.ok, true);
    ws.close();
  });

  it("holds a connection to 64 log subscriptions at once; an unsubscribe makes room", async () => {
    const c = server.client();
    const { blobId } = await c.request("blob.put", { data: new TextEncoder().encode("export {};") });
    await c.request("app.publish", {
      name: "quiet",
      environment: "main",
      mode: "deployed",
      bundleBlobId: blobId,
      functions: [],
    });
    const follow = () => c.request("app.logs", { name: "quiet", environment: "main", tail: 0, follow: true });
    const ids: string[] = [];
    for (let i = 0; i < 64; i++) ids.push((await follow()).subscriptionId!);
    await assert.rejects(follow(), /this connection follows 64 logs, the most it may: unsubscribe from one/);
    await c.request("logs.unsubscribe", { subscriptionId: ids[0]! });
    assert.match((await follow()).subscriptionId!, /^ls-/);
  });

  it("does not let a client call functions with a container token or an app it cannot see", async () => {
    await assert.rejects(Function_.lookup("ghost", "f", { client: server.client() }), /no deployed app "ghost"/);
  });

  // SKIFF_FUZZ_CONNECTIONS makes it longer (npm run chaos).
  const CONNECTIONS = Number(process.env.SKIFF_FUZZ_CONNECTIONS) || 1200;
  it(`survives seeded random and mutated messages after a valid hello (${CONNECTIONS} connections), its memory flat`, async (t) => {
    let seed = 4242;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
    const junk = (): unknown =>
      pick<() => unknown>([
        () => Math.floor(next() * 1e9) - 5e8,
        () => "x".repeat(Math.floor(next() * 300)),
        () => null,
        () => new Uint8Array(Math.floor(next() * 64)),
        () => [junk(), junk()],
        () => ({ a: junk(), items: [junk()], callId: "fc-000000000000000000000000" }),
        () => true,
      ])();
    const types = [
      "call.create",
      "call.get",
      "call.cancel",
      "map.start",
      "map.put",
      "map.end",
      "gen.start",
      "blob.put",
      "blob.get",
      "app.publish",
      "app.stop",
      "app.logs",
      "function.lookup",
      "secret.create",
      "token.create",
      "outputs",
      "gen.ack",
      "logs",
      "nope",
    ];
    const warmUp = 300;
    let baseline = 0;
    let middle = 0;
    for (let c = 0; c < CONNECTIONS + warmUp; c++) {
      if (c === warmUp) baseline = rssKiB(server.proc.pid!);
      if (c === warmUp + Math.floor(CONNECTIONS / 2)) middle = rssKiB(server.proc.pid!);
      const ws = await open(server.url);
      const gone = closed(ws);
      ws.send(hello());
      await nextFrame(ws);
      const msgs = Array.from({ length: 1 + Math.floor(next() * 5) }, (_, i) =>
        next() < 0.5 ? { t: pick(types), id: i + 2, p: junk() } : { t: pick(types), b: junk() },
      );
      const frame = encodeFrame(msgs as never);
      if (next() < 0.2) {
        // A mutated frame: a few bytes flipped, maybe truncated.
        const bad = frame.slice(0, 1 + Math.floor(next() * frame.length));
        for (let f = 0; f < 3; f++) bad[Math.floor(next() * bad.length)] = Math.floor(next() * 256);
        ws.send(bad);
      } else ws.send(frame);
      await Promise.race([gone, new Promise((r) => setTimeout(r, 20))]);
      ws.terminate();
    }
    assert.equal(server.proc.exitCode, null, "the server is still running");
    const end = rssKiB(server.proc.pid!);
    const grown = (end - baseline) / 1024;
    const mib = (k: number) => `${Math.round(k / 1024)} MiB`;
    t.diagnostic(
      `server RSS ${mib(baseline)} after ${warmUp} warm-up connections, ${mib(middle)} after ${CONNECTIONS / 2} more, ${mib(end)} after ${CONNECTIONS}`,
    );
    assert.ok(grown < 64, `the server grew by ${grown.toFixed(1)} MiB over ${CONNECTIONS} fuzzed connections`);
    const internal = server
      .output()
      .split("\n")
      .filter((l) => l.includes("internal error in"));
    assert.deepEqual(internal, [], "every bad request is refused by validation, not by a crash inside a handler");
    await stillServing();
  });
});
