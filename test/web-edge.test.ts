// Web endpoints at the edges, end to end (test/fixtures/fidelity-app.ts). WebSockets: a real
// `ws` client through the gateway to servers in containers (an http.Server with
// WebSocketServer({ server }), `noServer` with an 'upgrade' listener, Hono with skiff's
// upgradeWebSocket). Bad input: clients that break the protocol or leave half-way, and
// handlers that never end, each compared with the same Express app served directly.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connect, type LookupFunction } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { expressApp } from "./fixtures/frameworks.js";
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

/**
 * Writes `text` on a fresh connection (then `then` with the socket) and collects everything the
 * server sends until it closes; Date and skiff-request-id lines dropped (they differ anyway).
 */
function raw(port: number, text: string | Buffer, then?: (s: import("node:net").Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
    });
    s.on("error", () => {});
    s.on("close", () =>
      resolve(
        buf
          .split("\r\n")
          .filter((l) => !/^(date|skiff-request-id): /i.test(l))
          .join("\r\n"),
      ),
    );
    s.setTimeout(20_000, () => {
      s.destroy();
      reject(new Error(`no close; got ${buf}`));
    });
    s.write(text, () => then?.(s));
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

describe("web endpoints at the edges: WebSockets, bad input", () => {
  let server: ServerProcess;
  let port: number;
  let direct: import("node:http").Server;
  let dport: number;
  const url = (label: string, rest = "/") => `ws://127.0.0.1:${port}/web/fidelity/${label}${rest}`;

  before(async () => {
    server = await startServer({ args: ["--web-wait-ms", "120000"] });
    port = Number(new URL(server.url).port);
    const d = await skiff(["deploy", "test/fixtures/fidelity-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    direct = createServer(expressApp());
    await new Promise<void>((r) => direct.listen(0, "127.0.0.1", r));
    dport = (direct.address() as { port: number }).port;
    for (const path of ["ws-server/", "ws-noserver/", "ws-hono/", "express/text", "hang/ok"])
      await waitFor(async () => (await http(`${server.url}/web/fidelity/${path}`)).status === 200, path, 120_000);
  });
  after(async () => {
    direct?.close();
    await server?.stop();
  });
  const exHost = () => `fidelity--express.localhost:${port}`;

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

  it("a Fetch handler's request.signal aborts when its client goes away", async () => {
    const held = async () =>
      (await http(`${server.url}/web/fidelity/ws-hono/held`)).json() as { holding: number; aborted: number };
    const before = await held();
    const s = connect(port, "127.0.0.1");
    s.on("error", () => {});
    s.write(`GET /hold HTTP/1.1\r\nHost: fidelity--ws-hono.localhost:${port}\r\n\r\n`);
    await waitFor(async () => (await held()).holding > before.holding, "the handler to start");
    assert.equal((await held()).aborted, before.aborted);
    s.destroy();
    await waitFor(async () => (await held()).aborted > before.aborted, "the signal to abort");
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
    // Once the windows are full nothing moves: two looks a second apart see the same.
    let last = -1;
    const held = await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 1000));
        const b = (await stats()).buffered;
        const same = b > 0 && b === last;
        last = b;
        return same ? b : undefined;
      },
      "the flood to stop moving",
      30_000,
    );
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

  it("an HTTP/1.0 client gets what Node gives it (version seen by the handler, no chunking, close)", async () => {
    for (const path of ["/echo-req?v=1.0", "/stream"]) {
      const req = `GET ${path} HTTP/1.0\r\nHost: ${exHost()}\r\nX-Old: yes\r\n\r\n`;
      const want = await raw(dport, req);
      const got = await raw(port, req);
      assert.match(want, /^HTTP\/1\.1 200 OK/);
      assert.equal(got, want);
    }
  });

  it("bad input: a body longer than its Content-Length ends as on Node (400 for the rest)", async () => {
    const req = (host: string) =>
      `POST /raw HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\nhelloEXTRA BYTES THAT ARE NO REQUEST\r\n\r\n`;
    const want = await raw(dport, req(exHost()));
    const got = await raw(port, req(exHost()));
    assert.match(want, /^HTTP\/1\.1 400 Bad Request/);
    assert.equal(got, want);
  });

  /** The app's /watch handler: how many requests it got, and what the last one saw. */
  const watchState = async (base: string) =>
    (await http(`${base}/watched`, { headers: { host: exHost() } })).json() as { watches: number; seen: string[] };

  /**
   * Sends a /watch request's head and the start of its body, waits until the handler is
   * reading, then `rest` (or leaves): what the client got, and what the handler saw.
   */
  async function watch(p: number, framing: string, start: string, rest: string | undefined) {
    const base = `http://127.0.0.1:${p}`;
    const before = (await watchState(base)).watches;
    const answer = raw(p, `POST /watch HTTP/1.1\r\nHost: ${exHost()}\r\n${framing}\r\n\r\n${start}`, (s) => {
      void waitFor(async () => (await watchState(base)).watches > before, "the handler to start").then(() =>
        rest === undefined ? s.destroy() : s.write(rest),
      );
    });
    const got = await answer;
    const saw = await waitFor(async () => {
      const w = await watchState(base);
      return w.watches > before && w.seen.some((e) => e.startsWith("close")) ? w.seen : undefined;
    }, "the handler's events");
    return { got, saw };
  }

  it("bad input: a malformed chunked body: the client gets Node's 400, the handler 'aborted'", async () => {
    const framing = "Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream";
    const want = await watch(dport, framing, "5\r\nhello\r\n", "ZZZ-not-a-size\r\n\r\n");
    const got = await watch(port, framing, "5\r\nhello\r\n", "ZZZ-not-a-size\r\n\r\n");
    assert.match(want.got, /^HTTP\/1\.1 400 Bad Request/);
    assert.equal(got.got, want.got);
    assert.deepEqual(want.saw, ["aborted", "error ECONNRESET aborted", "close complete=false"]);
    assert.deepEqual(got.saw, want.saw);
  });

  it("bad input: a client that leaves half-way through its body: the handler sees it as on Node", async () => {
    // Over 64 KiB: the body streams to the handler (a smaller one is read whole first).
    const want = await watch(dport, "Content-Length: 300000", "a".repeat(100_000), undefined);
    const got = await watch(port, "Content-Length: 300000", "a".repeat(100_000), undefined);
    assert.equal(want.got, "");
    assert.equal(got.got, "");
    assert.deepEqual(want.saw, ["aborted", "error ECONNRESET aborted", "close complete=false"]);
    assert.deepEqual(got.saw, want.saw);
  });

  it("bad input: a handler that never ends is ended at its timeoutMs (504, or cut after the head)", async () => {
    const t = Date.now();
    const none = await http(`${server.url}/web/fidelity/hang/never`);
    assert.equal(none.status, 504);
    assert.match(none.body, /timed out/);
    assert.ok(Date.now() - t < 15_000);
    const cut = await raw(port, `GET /head HTTP/1.1\r\nHost: fidelity--hang.localhost:${port}\r\n\r\n`);
    assert.match(cut, /^HTTP\/1\.1 200 OK/);
    assert.match(cut, /partial/);
    assert.doesNotMatch(cut, /\r\n0\r\n\r\n$/, "a cut response has no last chunk");
  });

  it("after all of it, the gateway and the containers are healthy", async () => {
    assert.equal((await http(`${server.url}/healthz`)).status, 200);
    assert.equal((await http(`${server.url}/web/fidelity/hang/ok`)).body, "ok");
    assert.equal((await http(`${server.url}/web/fidelity/express/text`)).body, "hello express");
    const c = await open(url("ws-noserver", "/"));
    c.ws.send("ok");
    assert.equal(await c.next(), "OK");
    c.ws.close();
  });
});
