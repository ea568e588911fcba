import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { decodeFrame, encodeFrame, type Message } from "@skiff/protocol";
import { WebSocketServer } from "ws";
import { silentHost } from "../../../../test/helpers/procs.js";
import "../node/index.js"; // sockets over ws, as on Node
import { ConnectionError } from "../errors.js";
import { Connection } from "./connection.js";

const listen = (s: Server) =>
  new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r((s.address() as { port: number }).port)));

describe("a client's first connection", () => {
  let refusedUrl = "";
  let silentUrl = "";
  const silent = createServer((s) => held.push(s));
  const held: Socket[] = [];

  before(async () => {
    const probe = createServer();
    refusedUrl = `http://127.0.0.1:${await listen(probe)}`;
    await new Promise((r) => probe.close(r));
    silentUrl = `http://127.0.0.1:${await listen(silent)}`;
  });
  after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });

  const connection = (serverUrl: string, connectTimeoutMs?: number) =>
    new Connection({
      serverUrl,
      tokenId: "tk-x",
      tokenSecret: "s",
      role: "client",
      configSource: 'profile "p" in /x/.skiff.toml',
      ...(connectTimeoutMs ? { connectTimeoutMs } : {}),
    });

  it("to a server that is down fails at once, naming the URL and where it was configured", async () => {
    const c = connection(refusedUrl);
    const t0 = performance.now();
    const err = await c.request("app.list", { environment: "main" }).then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    );
    assert.ok(performance.now() - t0 < 1000, `failed after ${performance.now() - t0} ms`);
    assert.ok(err instanceof ConnectionError);
    assert.equal(
      err.message.split(":").slice(0, 3).join(":"),
      `cannot reach the Skiff server at ${refusedUrl} (from profile "p" in /x/.skiff.toml)`,
    );
    assert.match(err.message, /ECONNREFUSED.*`skiff server`/);
    c.close();
  });

  it("to a server that accepts it but never answers fails after the answer timeout", async () => {
    const c = new Connection({
      serverUrl: silentUrl,
      tokenId: "t",
      tokenSecret: "s",
      role: "client",
      answerTimeoutMs: 300,
    });
    const t0 = performance.now();
    await assert.rejects(
      c.request("app.list", { environment: "main" }),
      /at http:.* the server accepted the connection but did not answer within 300 ms/,
    );
    const ms = performance.now() - t0;
    assert.ok(ms >= 290 && ms < 1500, `failed after ${ms} ms`);
    c.close();
  });

  it("to a host that does not accept it fails after 2 s", async () => {
    const host = await silentHost();
    try {
      const c = connection(host.url);
      const t0 = performance.now();
      await assert.rejects(c.connect(), /no answer within 2000 ms/);
      const ms = performance.now() - t0;
      assert.ok(ms >= 1990 && ms < 3000, `failed after ${ms} ms`);
      c.close();
    } finally {
      host.close();
    }
  });
});

describe("a send that throws", () => {
  // A server that answers every request with an empty success.
  let wss: WebSocketServer;
  let url = "";
  let received = 0;
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    url = `http://127.0.0.1:${(wss.address() as { port: number }).port}`;
    wss.on("connection", (ws) =>
      ws.on("message", (data: Buffer) => {
        const replies = decodeFrame(data).map((m) => ({ t: "reply", id: (m as { id: number }).id, ok: true, r: {} }));
        received += replies.length;
        ws.send(encodeFrame(replies as Message[]));
      }),
    );
  });
  after(() => new Promise((r) => wss.close(r)));

  it("rejects the calls it carried at once, and a retryable one goes again on a new connection", async () => {
    const c = new Connection({ serverUrl: url, tokenId: "t", tokenSecret: "s", role: "client" });
    await c.request("app.list", { environment: "main" });
    // The socket breaks as workerd's did for another request's socket: send throws.
    const sock = (c as unknown as { socket: { send(d: Uint8Array): void } }).socket;
    sock.send = () => {
      throw new Error("boom");
    };
    const before = received;
    const t0 = performance.now();
    const [plain, retryable] = await Promise.allSettled([
      c.request("app.list", { environment: "main" }),
      c.request("app.list", { environment: "main" }, { retryable: true }),
    ]);
    assert.ok(performance.now() - t0 < 1000, `settled after ${performance.now() - t0} ms`);
    assert.equal(plain.status, "rejected");
    assert.ok(plain.reason instanceof ConnectionError, String(plain.reason));
    assert.match(plain.reason.message, /lost the connection to http:\/\/127\.0\.0\.1:\d+ \(1006\)/);
    assert.equal(retryable.status, "fulfilled", String((retryable as { reason?: unknown }).reason));
    // The hello and the retryable request, on the new connection; the failed send reached no one.
    assert.equal(received - before, 2);
    c.close();
  });
});

describe("what beforeFlush hooks emit", () => {
  // A server that answers hello and records every other frame it gets, as sent.
  let wss: WebSocketServer;
  let url = "";
  const frames: Message[][] = [];
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    url = `http://127.0.0.1:${(wss.address() as { port: number }).port}`;
    wss.on("connection", (ws) =>
      ws.on("message", (data: Buffer) => {
        const msgs = decodeFrame(data);
        const hello = msgs.find((m) => m.t === "hello") as { id: number } | undefined;
        if (hello) ws.send(encodeFrame([{ t: "reply", id: hello.id, ok: true, r: {} }] as Message[]));
        else frames.push(msgs);
      }),
    );
  });
  after(() => new Promise((r) => wss.close(r)));

  it("what a beforeFlush hook emits leaves in that turn's frame, after the turn's other messages", async (t) => {
    const c = new Connection({ serverUrl: url, tokenId: "t", tokenSecret: "s", role: "container" });
    t.after(() => c.close());
    await c.connect();
    const sock = (c as unknown as { socket: { send(d: Uint8Array): void } }).socket;
    let sent = 0;
    const send = sock.send.bind(sock);
    sock.send = (d) => {
      sent++;
      send(d);
    };
    // As the runtime reports outputs (report-outputs.ts): collected, shaped as the frame leaves.
    let held: string[] = [];
    let hookRuns = 0;
    c.beforeFlush(() => {
      hookRuns++;
      if (held.length === 0) return;
      const items = held.map((inputId) => ({
        inputId,
        attempt: 1,
        result: { status: "success" as const, data: new Uint8Array([1]) },
        durationMs: 1,
      }));
      held = [];
      c.emit("outputs", { items });
    });
    const report = (id: string) => {
      held.push(id);
      c.flushSoon();
    };
    report("in-a");
    c.emit("gen.items", { inputId: "in-g", attempt: 1, items: [new Uint8Array([2])] });
    report("in-b");
    const sentThisTurn = await new Promise<number>((r) => setImmediate(() => r(sent)));
    assert.equal(sentThisTurn, 1, "one frame, in this turn");
    assert.equal(hookRuns, 1);
    for (let i = 0; i < 100 && frames.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      frames[0]!.map((m) => m.t),
      ["gen.items", "outputs"],
    );
    assert.deepEqual(
      (frames[0]![1] as unknown as { b: { items: { inputId: string }[] } }).b.items.map((o) => o.inputId),
      ["in-a", "in-b"],
    );
    // What the hook emits asks for no turn of its own: nothing more leaves.
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(sent, 1);
    assert.equal(frames.length, 1);
  });
});
