// WebSockets to web endpoints, end to end: a real `ws` client through the gateway to servers
// in containers (test/fixtures/fidelity-app.ts): an http.Server with WebSocketServer({ server }),
// `noServer` with an 'upgrade' listener, and Hono with skiff's upgradeWebSocket.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connect, type LookupFunction } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";
import { http } from "./helpers/http.js";

/** Every name is loopback here (`<app>--<label>.localhost`). */
const lookup: LookupFunction = (_host, opts, cb) => {
  if ((opts as { all?: boolean }).all)
    (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]);
  else cb(null, "127.0.0.1", 4);
};

/** Opens a client; resolves once open, with every message it receives kept in order. */
function open(url: string): Promise<{ ws: WebSocket; got: (string | Buffer)[]; next: () => Promise<string | Buffer> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { lookup } as never);
    const got: (string | Buffer)[] = [];
    let waiter: (() => void) | undefined;
    ws.on("message", (d, isBinary) => {
      got.push(isBinary ? Buffer.from(d as Buffer) : d.toString());
      waiter?.();
    });
    let taken = 0;
    const next = async () => {
      while (got.length <= taken) await new Promise<void>((r) => (waiter = r));
      return got[taken++]!;
    };
    ws.once("open", () => resolve({ ws, got, next }));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

/** The raw response head of a WebSocket handshake, for the differential check. */
function handshake(port: number, host: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end >= 0) {
        s.destroy();
        resolve(buf.slice(0, end));
      }
    });
    s.on("error", reject);
    s.write(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
  });
}

describe("WebSockets through the gateway", () => {
  let server: ServerProcess;
  let port: number;
  const url = (label: string, rest = "/") => `ws://127.0.0.1:${port}/web/fidelity/${label}${rest}`;

  before(async () => {
    server = await startServer({ args: ["--web-wait-ms", "120000"] });
    port = Number(new URL(server.url).port);
    const d = await skiff(["deploy", "test/fixtures/fidelity-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    for (const label of ["ws-server", "ws-noserver", "ws-hono"])
      await waitFor(async () => (await http(`${server.url}/web/fidelity/${label}/`)).status === 200, label, 120_000);
  });
  after(() => server?.stop());

  it("an http.Server with WebSocketServer({ server }): handshake as Node's, messages both ways", async () => {
    const c = await open(url("ws-server", "/room?x=1"));
    assert.equal(await c.next(), "hello /room?x=1 from 127.0.0.1");
    c.ws.send("text message");
    assert.equal(await c.next(), "text message");
    const bin = Buffer.from([0, 1, 2, 255, 254]);
    c.ws.send(bin);
    assert.deepEqual(await c.next(), bin);
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    c.ws.send(big);
    assert.ok(big.equals((await c.next()) as Buffer), "a 3 MiB message echoed whole");
    c.ws.close();
    // The same server answers plain HTTP as its 'request' event.
    const r = await http(`${server.url}/web/fidelity/ws-server/`);
    assert.equal(r.body, "plain http on a WebSocket server");
    // By host as well.
    const h = await open(`ws://fidelity--ws-server.localhost:${port}/by-host`);
    assert.equal(await h.next(), "hello /by-host from 127.0.0.1");
    h.ws.close();
  });

  it("the 101 handshake is byte for byte what the same server sends directly", async () => {
    const direct = createServer();
    new WebSocketServer({ server: direct });
    await new Promise<void>((r) => direct.listen(0, "127.0.0.1", r));
    const dport = (direct.address() as { port: number }).port;
    try {
      const want = await handshake(dport, "x", "/h");
      const got = await handshake(port, `fidelity--ws-server.localhost:${port}`, "/h");
      assert.equal(got, want);
    } finally {
      direct.close();
    }
  });

  it("noServer with an 'upgrade' listener; a refused upgrade reaches the client as sent", async () => {
    const c = await open(url("ws-noserver", "/"));
    c.ws.send("shout");
    assert.equal(await c.next(), "SHOUT");
    c.ws.close();
    await assert.rejects(open(url("ws-noserver", "/refuse")), /unexpected response 403/);
  });

  it("Hono with skiff's upgradeWebSocket; other routes and non-upgrade requests as usual", async () => {
    const c = await open(url("ws-hono", "/ws"));
    assert.equal(await c.next(), "open /ws");
    c.ws.send("hi");
    assert.equal(await c.next(), "echo hi");
    c.ws.send(Buffer.from([9, 8, 7]));
    assert.deepEqual(await c.next(), Buffer.from([9, 8, 7]));
    c.ws.close();
    assert.equal((await http(`${server.url}/web/fidelity/ws-hono/`)).body, "hono ws root");
    // Not an upgrade: Hono goes on to its next handler (none: 404).
    assert.equal((await http(`${server.url}/web/fidelity/ws-hono/ws`)).status, 404);
  });

  it("a client that closes closes the handler's socket", async () => {
    const before = ((await http(`${server.url}/web/fidelity/ws-noserver/`)).json() as { closed: number }).closed;
    const c = await open(url("ws-noserver", "/"));
    c.ws.send("x");
    await c.next();
    c.ws.terminate(); // no close frame: the TCP connection just goes
    await waitFor(
      async () =>
        ((await http(`${server.url}/web/fidelity/ws-noserver/`)).json() as { closed: number }).closed > before,
      "the handler's close",
    );
  });

  it("a client that never reads: the app's socket buffers (as on Node), others are served", async () => {
    const c = await open(url("ws-noserver", "/"));
    // Stop reading: the TCP window fills, the gateway stops acknowledging, the app's ws buffers.
    (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    c.ws.send("flood 400"); // 400 × 64 KiB = 25 MiB
    // The app's socket keeps what the client does not take: the gateway and the kernel hold
    // only a window (were the gateway to take everything, the app's buffer would empty).
    const stats = async () =>
      (await http(`${server.url}/web/fidelity/ws-noserver/`)).json() as { closed: number; buffered: number };
    await waitFor(async () => (await stats()).buffered > 0, "the flood");
    await new Promise((r) => setTimeout(r, 1500));
    const held = (await stats()).buffered;
    assert.ok(held > 10 * 1024 * 1024, `the app's socket holds ${held} bytes`);
    // Meanwhile another client is served at once.
    const other = await open(url("ws-noserver", "/"));
    other.ws.send("still here");
    assert.equal(await other.next(), "STILL HERE");
    other.ws.close();
    // Everything arrives, in order, once the client reads again.
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    let n = 0;
    for (;;) {
      const m = await c.next();
      if (typeof m === "string") {
        assert.equal(m, "flood done");
        break;
      }
      assert.equal(m.byteLength, 64 * 1024);
      n++;
    }
    assert.equal(n, 400);
    c.ws.close();
  });

  it("a connection is limited by the function's timeoutMs", async () => {
    const c = await open(url("ws-server", "/"));
    await c.next();
    const t = Date.now();
    const code = await new Promise<number>((r) => c.ws.once("close", (code) => r(code)));
    // ws-server's timeoutMs is 8 s (counted from the call's start).
    assert.equal(code, 1006);
    assert.ok(Date.now() - t < 12_000);
  });
});
