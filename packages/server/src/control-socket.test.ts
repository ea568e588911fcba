import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { closeFrame, FRAME_FINAL, FRAMED_PREAMBLE, FrameReader, frameHeader } from "@skiff/protocol";
import WebSocket, { WebSocketServer } from "ws";
import { FramedSocket } from "./api/framed-socket.js";
import { controlListener } from "./control-socket.js";

describe("the control socket: the framed stream and HTTP/WebSocket on one unix socket", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-control-"));
  const path = join(dir, "control.sock");
  const http = createServer((_req, res) => res.end("http-ok"));
  const wss = new WebSocketServer({ noServer: true });
  http.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m: Buffer) => ws.send(`ws:${m}`))),
  );
  const closes: number[] = [];
  const control = controlListener(http, (socket) => {
    const f = new FramedSocket(socket);
    f.on("message", (data: Buffer) => {
      if (data.toString() === "bye") f.close(4001, "asked to");
      else f.send(Buffer.from(`framed:${data}`), { binary: true, fin: true });
    });
    f.on("close", (code: number) => closes.push(code));
    f.on("error", () => {}); // a malformed frame is reported (the Peer logs it), then closed
  });
  before(() => new Promise<void>((r) => control.listen(path, r)));
  after(() => {
    for (const c of wss.clients) c.terminate();
    http.closeAllConnections();
    control.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A framed client: writes `bytes` (preamble and frames, cut as given), collects what comes back. */
  function framedClient(chunks: Uint8Array[]): Promise<{ messages: string[]; close?: string }> {
    return new Promise((resolve) => {
      const got: { messages: string[]; close?: string } = { messages: [] };
      const s: Socket = connect({ path });
      const reader = new FrameReader(
        {
          message: (d) => got.messages.push(Buffer.from(d).toString()),
          close: (code, reason) => (got.close = `${code} ${reason}`),
        },
        1 << 20,
      );
      s.on("data", (d) => reader.push(d));
      s.on("close", () => resolve(got));
      s.on("connect", async () => {
        for (const c of chunks) {
          s.write(c);
          await new Promise((r) => setTimeout(r, 5));
        }
      });
    });
  }
  const msg = (text: string) => Buffer.concat([frameHeader(FRAME_FINAL, text.length), Buffer.from(text)]);

  it("a framed connection, its preamble cut in two: messages both ways, a close with its code", async () => {
    const all = Buffer.concat([FRAMED_PREAMBLE, msg("a"), msg("bc"), msg("bye")]);
    const got = await framedClient([all.subarray(0, 3), all.subarray(3, 10), all.subarray(10)]);
    assert.deepEqual(got.messages, ["framed:a", "framed:bc"]);
    assert.equal(got.close, "4001 asked to");
  });

  it("a framed peer that closes first is answered, and the server sees its code", async () => {
    await new Promise((r) => setTimeout(r, 100)); // the previous test's connection has ended
    const before = closes.length;
    await framedClient([Buffer.concat([FRAMED_PREAMBLE, msg("x"), closeFrame(1000, "done")])]);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(closes.slice(before), [1000]);
  });

  it("a malformed frame closes the connection with 1002", async () => {
    const got = await framedClient([Buffer.concat([FRAMED_PREAMBLE, Buffer.from([7, 0, 0, 0, 1, 0])])]);
    assert.match(got.close ?? "", /^1002 /);
  });

  it("a connection that sends nothing is closed (it holds a descriptor)", async () => {
    const quick = controlListener(http, () => assert.fail("not framed"), 200);
    const p2 = join(dir, "quiet.sock");
    await new Promise<void>((r) => quick.listen(p2, r));
    const t0 = Date.now();
    await new Promise<void>((resolve) => connect({ path: p2 }).on("close", () => resolve()));
    assert.ok(Date.now() - t0 < 2000);
    quick.close();
  });

  it("a WebSocket and a plain HTTP request still reach the HTTP server", async () => {
    const ws = new WebSocket(`ws+unix:${path}:/v1/ws`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.on("open", () => ws.send("hi"));
      ws.on("message", (m: Buffer) => resolve(m.toString()));
      ws.on("error", reject);
    });
    ws.close();
    assert.equal(echoed, "ws:hi");
    const body = await new Promise<string>((resolve, reject) => {
      request({ socketPath: path, path: "/healthz" }, (res) => {
        let b = "";
        res.on("data", (d: Buffer) => (b += d));
        res.on("end", () => resolve(b));
      })
        .on("error", reject)
        .end();
    });
    assert.equal(body, "http-ok");
  });
});
