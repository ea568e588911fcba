// Web endpoints end to end: the real CLI deploys test/fixtures/web-app.ts to a real server,
// and plain HTTP requests reach handlers in sandboxed containers through the gateway.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Function_ } from "skiff";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";
import { http } from "./helpers/http.js";

describe("web endpoints", () => {
  let server: ServerProcess;
  let base: string;
  let port: string;
  const path = (label: string, rest = "") => `${base}/web/web-fixture/${label}${rest}`;
  const host = (label: string, rest = "") => `http://web-fixture--${label}.localhost:${port}${rest}`;

  before(async () => {
    server = await startServer({ args: ["--web-wait-ms", "5000", "--web-max-body-bytes", "5000000"] });
    base = server.url;
    port = new URL(base).port;
    const d = await skiff(["deploy", "test/fixtures/web-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    // Both URL forms are printed.
    assert.ok(d.stdout.includes(`hello: http://web-fixture--hello.localhost:${port}`), d.stdout);
    assert.ok(d.stdout.includes(`${base}/web/web-fixture/hello`), d.stdout);
  });
  after(() => server.stop());

  it("webEndpoint GET: the query string through a zod schema, by host and by path", async () => {
    for (const url of [host("hello", "/?name=Ada&times=2"), path("hello", "?name=Ada&times=2")]) {
      const r = await http(url);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json(), { greeting: "Hello, Ada!Hello, Ada!" });
      assert.match(String(r.headers["content-type"]), /application\/json/);
      assert.match(String(r.headers["skiff-request-id"]), /^rq-/);
    }
  });

  it("a bad input is a 400 that names the field", async () => {
    const r = await http(path("hello", "?name="));
    assert.equal(r.status, 400);
    const e = (r.json() as { error: { code: string; message: string; issues: { field: string }[] } }).error;
    assert.equal(e.code, "invalid_argument");
    assert.match(e.message, /^query\.name: /);
    assert.equal(e.issues[0]!.field, "name");
    const p = await http(path("add"), { method: "POST", body: JSON.stringify({ a: 1, b: "two" }) });
    assert.equal(p.status, 400);
    assert.match(p.body, /body\.b: /);
  });

  it("webEndpoint POST: a JSON body in, JSON out; the handler sees the request id", async () => {
    const r = await http(host("add"), { method: "POST", body: JSON.stringify({ a: 2, b: 40 }) });
    assert.equal(r.status, 200, r.body);
    const j = r.json() as { sum: number; requestId: string };
    assert.equal(j.sum, 42);
    assert.equal(j.requestId, r.headers["skiff-request-id"]);
  });

  it("malformed JSON is a 400 with the parse error", async () => {
    const r = await http(path("add"), { method: "POST", body: '{"a": 1,' });
    assert.equal(r.status, 400);
    assert.match((r.json() as { error: { message: string } }).error.message, /^malformed JSON body: .*JSON/);
  });

  it("an unknown label is a 404; a method the endpoint does not take is a 405", async () => {
    const r = await http(path("no-such-label"));
    assert.equal(r.status, 404);
    assert.match(r.body, /no web endpoint/);
    const h = await http(host("nothing-here"));
    assert.equal(h.status, 404);
    const m = await http(path("hello"), { method: "DELETE" });
    assert.equal(m.status, 405);
    assert.equal(m.headers.allow, "GET, HEAD, OPTIONS");
    assert.equal(m.headers["access-control-allow-origin"], "*");
  });

  it("a handler that throws is a 500 with a request id and no stack; the stack is in the app's logs", async () => {
    const r = await http(path("boom"));
    assert.equal(r.status, 500);
    const e = (r.json() as { error: { code: string; request_id: string; message: string } }).error;
    assert.equal(e.code, "internal");
    assert.match(e.request_id, /^rq-/);
    assert.doesNotMatch(r.body, /kaboom|at |\.ts/);
    const logs = await skiff(["app", "logs", "web-fixture"], { env: server.env });
    assert.ok(logs.stdout.includes(`request ${e.request_id} failed`), logs.stdout);
    assert.match(logs.stdout, /kaboom: a secret detail/);
    assert.match(logs.stdout, /kaboom: a secret detail\n\s+at /); // the stack
  });

  it("a returned Response is sent as it is", async () => {
    const r = await http(path("raw"));
    assert.equal(r.status, 201);
    assert.equal(r.body, "plain text");
    assert.equal(r.headers["x-custom"], "yes");
  });

  it("a returned Response still being produced streams: the first part reaches the client before the rest is made", async () => {
    const t = Date.now();
    const r = await http(path("dribble"));
    assert.equal(r.status, 200);
    assert.equal(r.body, "first;second");
    assert.equal(r.headers["transfer-encoding"], "chunked");
    assert.equal(r.headers["content-type"], "text/plain");
    // The first part came as its own chunk, before the second was produced.
    assert.equal(r.chunks[0]!.text, "first;");
    assert.ok(r.chunks.at(-1)!.at - r.chunks[0]!.at >= 300, JSON.stringify(r.chunks));
    assert.ok(Date.now() - t >= 350, "the body waited for its second part");
  });

  it("a webEndpoint that never answers is a 504 at its timeoutMs; one whose value is not JSON is a 500", async () => {
    const t = Date.now();
    const r = await http(path("stuck"));
    assert.equal(r.status, 504);
    assert.match(r.body, /timed out/);
    assert.ok(Date.now() - t < 10_000);
    const bad = await http(path("not-json"));
    assert.equal(bad.status, 500);
    assert.equal((bad.json() as { error: { code: string } }).error.code, "internal");
    // The endpoint's container serves the next request as before.
    assert.equal((await http(path("add"), { method: "POST", body: '{"a":1,"b":2}' })).status, 200);
  });

  it("a JSON answer larger than one payload (3 MB) arrives whole, with its length", async () => {
    const r = await http(path("big-json"));
    assert.equal(r.status, 200, r.body.slice(0, 300));
    assert.equal(r.headers["content-length"], String(3_000_008));
    assert.equal((r.json() as { s: string }).s.length, 3_000_000);
  });

  it("CORS: preflight answered, headers on every webEndpoint response", async () => {
    const r = await http(path("add"), {
      method: "OPTIONS",
      headers: {
        origin: "http://example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers["access-control-allow-origin"], "*");
    assert.equal(r.headers["access-control-allow-methods"], "POST, OPTIONS");
    assert.equal(r.headers["access-control-allow-headers"], "content-type");
    const ok = await http(path("hello", "?name=x"), { headers: { origin: "http://example.com" } });
    assert.equal(ok.headers["access-control-allow-origin"], "*");
  });

  it("a real Hono app with several routes (fetchApp)", async () => {
    assert.equal((await http(host("api", "/"))).body, "hono root");
    assert.deepEqual((await http(host("api", "/items/7?q=z"))).json(), { id: "7", q: "z" });
    assert.deepEqual((await http(path("api", "/items/8"))).json(), { id: "8", q: null });
    const e = await http(path("api", "/echo"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ k: [1, 2] }),
    });
    assert.deepEqual(e.json(), { got: { k: [1, 2] } });
    assert.equal((await http(path("api", "/missing"))).status, 404);
  });

  it("a real Express app (nodeHttpApp)", async () => {
    assert.equal((await http(host("legacy", "/"))).body, "express root");
    assert.deepEqual((await http(path("legacy", "/users/3?q=x"))).json(), { user: "3", q: "x" });
    const e = await http(path("legacy", "/echo"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ n: 1 }),
    });
    assert.equal(e.status, 201);
    assert.deepEqual(e.json(), { body: { n: 1 } });
  });

  it("server-sent events and chunked responses reach the client as they are produced", async () => {
    const sse = await http(path("api", "/sse?n=3&gap=400"));
    assert.equal(sse.status, 200);
    assert.match(String(sse.headers["content-type"]), /text\/event-stream/);
    assert.equal(sse.body.match(/data: tick \d/g)?.length, 3);
    const first = sse.chunks.find((c) => c.text.includes("tick 0"))!;
    const last = sse.chunks.at(-1)!;
    // The handler sleeps 400 ms after each event: the first arrived long before the end.
    assert.ok(last.at - first.at > 700, `first at ${first.at} ms, last at ${last.at} ms`);
    const ch = await http(path("legacy", "/chunks"));
    assert.equal(ch.body, "chunk 0\nchunk 1\nchunk 2\n");
    assert.ok(ch.chunks.length >= 3, `${ch.chunks.length} chunks`);
    assert.ok(ch.chunks.at(-1)!.at - ch.chunks[0]!.at > 400);
  });

  it("a client that stops reading pauses the handler (bounded buffers); leaving cancels it", async () => {
    const { request } = await import("node:http");
    const req = request(path("api", "/flood"));
    const res = await new Promise<import("node:http").IncomingMessage>((r) => req.on("response", r).end());
    await new Promise((r) => res.once("data", r));
    res.pause(); // the client stops reading
    await new Promise((r) => setTimeout(r, 1500));
    const produced = async () => ((await http(path("api", "/produced"))).json() as { produced: number }).produced;
    const paused = await produced();
    // The window (16 x 64 KiB) plus socket buffers, not an unbounded stream. Loopback TCP grows
    // the client's receive buffer up to tcp_rmem's max (32 MiB on some hosts) and the server's
    // send buffer up to tcp_wmem's: those are the kernel's, so the bound allows for them.
    const kernelMax = (f: string) => Number(readFileSync(`/proc/sys/net/ipv4/${f}`, "utf8").trim().split(/\s+/)[2]);
    const bound = 4 * 1024 * 1024 + kernelMax("tcp_rmem") + kernelMax("tcp_wmem");
    assert.ok(paused < bound, `produced ${paused} bytes while nobody read (bound ${bound})`);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok((await produced()) - paused < 1024 * 1024, "it stays paused");
    req.destroy();
    await new Promise((r) => setTimeout(r, 500));
    const after = await produced();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await produced(), after, "the handler stopped once the client left");
  });

  it("a large request body streams to the handler; over the limit is a 413", async () => {
    const mib = new Uint8Array(1024 * 1024).fill(7);
    async function* body(n: number) {
      for (let i = 0; i < n; i++) yield mib;
    }
    // Chunked (no Content-Length): the handler counts it as it arrives.
    const r = await http(path("api", "/count"), { method: "POST", body: body(4) });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json(), { bytes: 4 * 1024 * 1024 });
    const over = await http(path("api", "/count"), { method: "POST", body: body(6) });
    assert.equal(over.status, 413);
    assert.match(over.body, /over the 5000000-byte limit/);
    const declared = await http(path("api", "/count"), {
      method: "POST",
      headers: { "content-length": String(6 * 1024 * 1024) },
      body: new Uint8Array(6 * 1024 * 1024),
    });
    assert.equal(declared.status, 413);
  });

  it("waitForResponse: past --web-wait-ms a 303 to a result URL, which answers the result", async () => {
    const r = await http(path("slow", "?ms=12000"), { headers: { origin: "http://example.com" } });
    assert.equal(r.status, 303);
    assert.equal(r.headers["access-control-allow-origin"], "*"); // CORS on the 303 too
    const loc = String(r.headers.location);
    assert.match(loc, /\/web\/_result\/fc-[0-9a-f]+$/);
    // The result URL waits in turn: still not done after another 5 s -> 303 to itself, then
    // (the handler sleeps 12 s) the result. The wait is 5 s, not 1 s, so that a cold container
    // on a busy machine still answers the other tests' first requests directly.
    let again = await http(loc);
    assert.equal(again.status, 303);
    assert.equal(again.headers.location, loc);
    for (let i = 0; i < 10 && again.status === 303; i++) again = await http(loc);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json(), { done: true });
    // A short call is answered directly.
    const fast = await http(path("slow", "?ms=10"));
    assert.equal(fast.status, 200);
  });

  it("waitForResponse: false answers 202 with a result_url at once", async () => {
    const t0 = performance.now();
    const r = await http(path("later"), { method: "POST", body: JSON.stringify({ x: 21 }) });
    assert.equal(r.status, 202);
    assert.ok(performance.now() - t0 < 250, "answered before the handler finished");
    const url = (r.json() as { result_url: string }).result_url;
    assert.equal(r.headers.location, url);
    const res = await http(url);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { doubled: 42 });
    // A whole response kept in memory can be read again.
    assert.deepEqual((await http(url)).json(), { doubled: 42 });
    assert.equal((await http(`${base}/web/_result/fc-000000000000000000000000`)).status, 404);
  });

  it("requiresAuth takes an endpoint token in headers, not an API token", async () => {
    assert.equal((await http(path("secret"))).status, 401);
    const t = await skiff(["token", "new", "--web"], { env: server.env });
    assert.equal(t.code, 0, t.stderr);
    const id = /token id:\s+(\S+)/.exec(t.stdout)![1]!;
    const secret = /token secret:\s+(\S+)/.exec(t.stdout)![1]!;
    const ok = await http(path("secret"), { headers: { "skiff-token-id": id, "skiff-token-secret": secret } });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(ok.json(), { ok: "you are in" });
    const bearer = await http(host("secret"), { headers: { authorization: `Bearer ${id}:${secret}` } });
    assert.equal(bearer.status, 200);
    const wrong = await http(path("secret"), { headers: { authorization: `Bearer ${id}:nope` } });
    assert.equal(wrong.status, 401);
    assert.match(String(wrong.headers["www-authenticate"]), /Bearer/);
    const api = await http(path("secret"), {
      headers: { authorization: `Bearer ${server.tokenId}:${server.tokenSecret}` },
    });
    assert.equal(api.status, 401);
    assert.match(api.body, /takes an endpoint token \(skiff token new --web\), not an admin token"/);
  });

  it("skiff run: getWebUrl() inside the app gives the ephemeral -dev URL, which answers", async () => {
    const r = await skiff(["run", "test/fixtures/web-run-app.ts"], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`url: http://web-run--echo-dev.localhost:${port}`), r.stdout);
    assert.ok(r.stdout.includes('answer: 200 {"said":"hi"}'), r.stdout);
    // skiff run also printed both forms.
    assert.ok(r.stdout.includes(`echo: http://web-run--echo-dev.localhost:${port}`), r.stdout);
  });

  it("getWebUrl / webUrl give the stable URL, the same after a redeploy", async () => {
    const c = server.client();
    const fn = await Function_.lookup("web-fixture", "hello", { client: c });
    assert.equal(fn.webUrl, `http://web-fixture--hello.localhost:${port}`);
    const d = await skiff(["deploy", "test/fixtures/web-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    const again = await Function_.lookup("web-fixture", "hello", { client: c });
    assert.equal(again.webUrl, fn.webUrl);
    // getWebUrl() on any handle: looked up, or lazy (resolved by the call).
    assert.equal(await again.getWebUrl(), fn.webUrl);
    assert.equal(await Function_.fromName("web-fixture", "hello", { client: c }).getWebUrl(), fn.webUrl);
    // A web endpoint is called at its URL, not with remote/spawn.
    await assert.rejects(again.remote(), /web-fixture\.hello is a web endpoint: request http:/);
    await assert.rejects(again.spawn(), /web-fixture\.hello is a web endpoint: request http:/);
    assert.equal((await http(path("hello", "?name=z"))).status, 200);
  });
});

describe("web result URLs across a restart", () => {
  it("a finished 202 result is kept in the store like a spawned call's result", async () => {
    const first = await startServer();
    const d = await skiff(["deploy", "test/fixtures/web-app.ts"], { env: first.env });
    assert.equal(d.code, 0, d.stderr);
    const r = await http(`${first.url}/web/web-fixture/later`, { method: "POST", body: JSON.stringify({ x: 5 }) });
    assert.equal(r.status, 202);
    const callId = (r.json() as { call_id: string }).call_id;
    // Read it once (it waits for the handler), then restart the control plane on the same data.
    const url = (r.json() as { result_url: string }).result_url;
    assert.deepEqual((await http(url)).json(), { doubled: 10 });
    const c = first.client();
    await waitFor(
      () =>
        c.request("call.get", { callId, timeoutMs: 0 }).then(
          () => true,
          () => false,
        ),
      "the result to be stored",
    );
    await new Promise((res) => setTimeout(res, 200)); // past the store's group commit
    await first.kill();
    const second = await startServer({ home: first.home, dataDir: first.dataDir, token: first });
    try {
      const again = await http(`${second.url}/web/_result/${callId}`);
      assert.equal(again.status, 200, again.body);
      assert.deepEqual(again.json(), { doubled: 10 });
      assert.equal(again.headers["access-control-allow-origin"], "*");
    } finally {
      await second.stop();
    }
  });
});
