// serveNode in process: what a Node handler sees of a request and what its response becomes
// (the items the gateway turns into the client's response). End to end in test/web-*.test.ts.
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, it } from "node:test";
import type { WebRequestWire, WebResponseHead } from "@skiff/protocol";
import type { WebItem } from "./response-items.js";
import { serveNode } from "./serve-node.js";

const ids = { callId: "fc-1", inputId: "in-1" };

function wire(over: Partial<WebRequestWire> = {}): WebRequestWire {
  return {
    requestId: "rq-1",
    method: "GET",
    url: "/a%20b?x=1&x=2",
    headers: [
      ["Host", "h.localhost"],
      ["X-Dup", "1"],
      ["x-dup", "2"],
      ["Cookie", "a=1"],
      ["cookie", "b=2"],
      ["Content-Type", "text/plain"],
      ["content-type", "ignored/second"],
    ],
    body: { kind: "none" },
    remoteAddress: "10.1.2.3",
    remotePort: 5555,
    ...over,
  };
}

async function run(w: WebRequestWire, handler: (req: IncomingMessage, res: ServerResponse) => unknown) {
  const items: WebItem[] = [];
  let error: unknown;
  try {
    for await (const i of serveNode(w, handler, ids, new AbortController().signal)) items.push(i);
  } catch (err) {
    error = err;
  }
  return { items, error, head: items[0] as WebResponseHead };
}

describe("serveNode", () => {
  it("gives the handler the request as Node would: raw names, repeats, version, address", async () => {
    let seen: Record<string, unknown> = {};
    await run(wire({ httpVersion: "1.0" }), (req, res) => {
      seen = {
        url: req.url,
        httpVersion: req.httpVersion,
        minor: req.httpVersionMinor,
        rawHeaders: req.rawHeaders,
        dup: req.headers["x-dup"],
        cookie: req.headers.cookie,
        type: req.headers["content-type"],
        remote: req.socket.remoteAddress,
        completeAtFirst: req.complete,
      };
      res.end();
    });
    assert.deepEqual(seen, {
      url: "/a%20b?x=1&x=2",
      httpVersion: "1.0",
      minor: 0,
      rawHeaders: [
        "Host",
        "h.localhost",
        "X-Dup",
        "1",
        "x-dup",
        "2",
        "Cookie",
        "a=1",
        "cookie",
        "b=2",
        "Content-Type",
        "text/plain",
        "content-type",
        "ignored/second",
      ],
      dup: "1, 2",
      cookie: "a=1; b=2",
      type: "text/plain",
      remote: "10.1.2.3",
      // As on Node: the parser marks the request complete just after the 'request' event.
      completeAtFirst: false,
    });
  });

  it("end(body) without a head: one whole item; headers in the handler's order and spelling", async () => {
    const { items, head } = await run(wire(), (_req, res) => {
      res.setHeader("X-First", "1");
      res.appendHeader("Set-Cookie", "a=1");
      res.appendHeader("set-cookie", "b=2");
      res.statusMessage = "Fine Indeed";
      res.end("hello");
    });
    assert.equal(items.length, 1);
    assert.equal(head.end, true);
    assert.equal(Buffer.from(head.body!).toString(), "hello");
    assert.equal(head.statusText, "Fine Indeed");
    assert.deepEqual(head.headers, [
      ["X-First", "1"],
      ["Set-Cookie", "a=1"],
      ["Set-Cookie", "b=2"],
    ]);
  });

  it("writeHead then writes: a head, chunks and trailers (the gateway chunks, as Node would)", async () => {
    const { items, head } = await run(wire(), (_req, res) => {
      res.writeHead(202, "Taken", { Trailer: "X-Sum" });
      res.write("a");
      res.addTrailers({ "X-Sum": "9" });
      res.end("b");
    });
    assert.equal(head.status, 202);
    assert.equal(head.statusText, "Taken");
    assert.equal(head.end, undefined);
    assert.deepEqual(
      items.slice(1).map((i) => (i instanceof Uint8Array ? Buffer.from(i).toString() : i)),
      ["a", "b", { trailers: [["X-Sum", "9"]] }],
    );
  });

  it("a bytes body arrives after the handler's first turn, then 'end' with complete", async () => {
    let got = "";
    let complete = false;
    await run(
      wire({ method: "POST", body: { kind: "bytes", data: new TextEncoder().encode("payload") } }),
      (req, res) => {
        req.on("data", (c: Buffer) => {
          got += c.toString();
        });
        req.on("end", () => {
          complete = req.complete;
          res.end("ok");
        });
      },
    );
    assert.equal(got, "payload");
    assert.equal(complete, true);
  });

  it("a socket destroyed after the head cuts the response short (the call fails)", async () => {
    const { items, error } = await run(wire(), (req, res) => {
      res.write("partial");
      setTimeout(() => req.socket.destroy(), 5);
    });
    assert.equal(items.length, 2);
    assert.ok(error instanceof Error);
  });

  it("an http.Server gets its 'request' event", async () => {
    const { createServer } = await import("node:http");
    const server = createServer((_req, res) => res.end("from the server"));
    const items: WebItem[] = [];
    for await (const i of serveNode(wire(), server, ids, new AbortController().signal)) items.push(i);
    assert.equal(Buffer.from((items[0] as WebResponseHead).body!).toString(), "from the server");
  });
});
