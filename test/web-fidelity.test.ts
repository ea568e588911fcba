// The differential suite: the same apps (Express, Koa, Fastify through its Node handler; Hono,
// itty-router) served directly on a Node server here and through Skiff (deployed from
// test/fixtures/fidelity-app.ts), the same requests sent to both, and status, reason phrase,
// headers (in order, repeats kept; Date, Connection, Keep-Alive and skiff-request-id aside),
// trailers and body bytes compared. A difference is a failing test.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { getRequestListener } from "@hono/node-server";
import { expressApp, fastifyApp, honoApp, ittyApp, koaApp } from "./fixtures/frameworks.js";
import { type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";

type Kind = "node" | "fetch";
const FRAMEWORKS: { label: string; kind: Kind; make: () => (req: IncomingMessage, res: never) => unknown }[] = [
  { label: "express", kind: "node", make: () => expressApp() as never },
  { label: "koa", kind: "node", make: () => koaApp() as never },
  { label: "fastify", kind: "node", make: () => fastifyApp() as never },
  // As Hono's own Node adapter serves them, with the platform's Request and Response.
  { label: "hono", kind: "fetch", make: () => getRequestListener(honoApp().fetch, { overrideGlobalObjects: false }) },
  {
    label: "itty",
    kind: "fetch",
    make: () => getRequestListener(ittyApp().fetch as never, { overrideGlobalObjects: false }),
  },
];

interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  /** Sent with a Content-Length, or chunked when `chunked` (split in `parts`). */
  body?: string | Uint8Array;
  chunked?: boolean;
  parts?: number;
  /** Send `Expect: 100-continue` and the body only once the server says continue. */
  expectContinue?: boolean;
  /** If-None-Match: the ETag the direct server gives this path. */
  etagOf?: string;
  only?: string[];
}

const json = JSON.stringify({ a: 1, nested: { b: [1, 2, "three"] }, text: "é ✓" });
const form = "name=Ada+Lovelace&tags=a&tags=b&empty=&sym=%26%3D%2B";
const bytes = (n: number, seed = 7) => new Uint8Array(n).map((_, i) => (i * seed + (i >> 8)) & 255);

const BOUNDARY = "----fidelity7MA4YWxkTrZu0gW";
/** A multipart body with a text field and a 50 MiB file. */
function multipart(): Buffer {
  const head =
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nbig one\r\n` +
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
    "Content-Type: application/octet-stream\r\n\r\n";
  return Buffer.concat([Buffer.from(head), bytes(50 * 1024 * 1024, 31), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
}

const COMMON: Case[] = [
  { name: "GET text", path: "/text" },
  { name: "HEAD text", method: "HEAD", path: "/text" },
  { name: "GET with an encoded query and repeats", path: "/json?a=1&b=two%20words&c=%E2%9C%93&a=2&empty=&plus=a+b" },
  { name: "GET json without a query", path: "/json" },
  { name: "GET a raw URL with odd bytes", path: "/json?q=%zz&x=[1]&y=a%2Fb#frag" },
  {
    name: "the request as the handler sees it: names, repeats, cookies",
    path: "/echo-req?x=1",
    headers: {
      "X-Dup": ["one", "two"],
      "X-Mixed-CASE": "Value",
      Cookie: "a=1; b=2",
      Accept: "text/html, */*;q=0.1",
      "User-Agent": "fidelity/1",
    },
  },
  { name: "POST echo with a length", method: "POST", path: "/echo-req", body: "a body with a length" },
  { name: "POST echo chunked", method: "POST", path: "/echo-req", body: "a chunked body", chunked: true, parts: 3 },
  {
    name: "POST JSON with a length",
    method: "POST",
    path: "/json",
    headers: { "content-type": "application/json" },
    body: json,
  },
  {
    name: "POST JSON chunked reaches the parser",
    method: "POST",
    path: "/json",
    headers: { "content-type": "application/json" },
    body: json,
    chunked: true,
  },
  {
    name: "POST JSON in twenty chunks",
    method: "POST",
    path: "/json",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: json,
    chunked: true,
    parts: 20,
  },
  {
    name: "POST JSON with Expect: 100-continue",
    method: "POST",
    path: "/json",
    headers: { "content-type": "application/json" },
    body: json,
    expectContinue: true,
  },
  {
    name: "POST a form with a length",
    method: "POST",
    path: "/form",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
  },
  {
    name: "POST a form chunked",
    method: "POST",
    path: "/form",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
    chunked: true,
  },
  {
    name: "POST 100 KiB with a length (streamed)",
    method: "POST",
    path: "/raw",
    headers: { "content-type": "application/octet-stream" },
    body: bytes(100 * 1024),
  },
  {
    name: "POST 3 MiB chunked",
    method: "POST",
    path: "/raw",
    headers: { "content-type": "application/octet-stream" },
    body: bytes(3 * 1024 * 1024, 13),
    chunked: true,
    parts: 48,
  },
  {
    name: "POST an empty body",
    method: "POST",
    path: "/raw",
    headers: { "content-type": "application/octet-stream" },
    body: "",
  },
  { name: "three Set-Cookie headers", path: "/cookies" },
  { name: "a redirect", path: "/redirect" },
  { name: "a streamed response (chunked)", path: "/stream" },
  { name: "a status with a reason phrase", path: "/status" },
  { name: "204 with no body", path: "/empty" },
  { name: "an ETag", path: "/etag" },
  { name: "304 on If-None-Match", path: "/etag", etagOf: "/etag" },
  { name: "1 MiB body with its length", path: "/big" },
  { name: "a handler error", path: "/error" },
  { name: "headers in order with repeats", path: "/headers" },
  { name: "an unknown path", path: "/missing/path?x=1" },
  { name: "a method not routed", method: "DELETE", path: "/text" },
  { name: "OPTIONS", method: "OPTIONS", path: "/text" },
  { name: "Accept-Encoding without compression", path: "/text", headers: { "accept-encoding": "gzip, br" } },
  // Node-only handlers.
  { name: "res.end(body) without a head: a Content-Length", path: "/plain-end", only: ["express"] },
  { name: "writeHead with a reason, then end: chunked", path: "/write-head", only: ["express"] },
  { name: "trailers after a chunked body", path: "/trailers", only: ["express"] },
  { name: "sendFile", path: "/file", only: ["express"] },
  { name: "sendFile with a range: 206", path: "/file", headers: { range: "bytes=10-49" }, only: ["express"] },
  { name: "sendFile with two ranges", path: "/file", headers: { range: "bytes=0-4,10-14" }, only: ["express"] },
  { name: "sendFile conditional: 304", path: "/file", etagOf: "/file", only: ["express"] },
  { name: "sendFile HEAD", method: "HEAD", path: "/file", only: ["express"] },
  { name: "an error after the head cuts the response", path: "/error-after-head", only: ["express"] },
  {
    name: "multer: a 50 MiB multipart upload, streamed",
    method: "POST",
    path: "/upload",
    headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
    body: multipart(),
    chunked: true,
    parts: 200,
    only: ["express"],
  },
  // Every Response body kind.
  { name: "a Blob body with its type", path: "/kind/blob", only: ["hono"] },
  { name: "a bytes body", path: "/kind/bytes", only: ["hono"] },
  { name: "a bytes body of every byte value", path: "/kind/all-bytes", only: ["hono"] },
  { name: "a URLSearchParams body", path: "/kind/params", only: ["hono"] },
  { name: "a ReadableStream body (chunked)", path: "/kind/stream", only: ["hono"] },
  { name: "a FormData body", path: "/kind/form", only: ["hono"] },
];

interface Answer {
  status: number;
  reason: string;
  headers: string[];
  trailers: string[];
  body: Buffer;
  aborted: boolean;
}

/** Per-connection headers that a different server may set differently. */
const ASIDE = new Set(["date", "connection", "keep-alive", "skiff-request-id"]);

function send(port: number, host: string, c: Case, extra: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { host, ...c.headers, ...extra };
    const body = typeof c.body === "string" ? Buffer.from(c.body) : c.body ? Buffer.from(c.body) : undefined;
    if (body && !c.chunked) headers["content-length"] = String(body.byteLength);
    if (c.expectContinue) headers.expect = "100-continue";
    const req = request({ host: "127.0.0.1", port, method: c.method ?? "GET", path: c.path, headers, agent: false });
    req.on("response", (res) => {
      const parts: Buffer[] = [];
      let aborted = false;
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("aborted", () => {
        aborted = true;
      });
      res.on("error", () => {
        aborted = true;
      });
      res.on("close", () => {
        const h: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const k = res.rawHeaders[i]!.toLowerCase();
          if (!ASIDE.has(k)) h.push(`${k}: ${res.rawHeaders[i + 1]}`);
        }
        const t: string[] = [];
        for (let i = 0; i < res.rawTrailers.length; i += 2) t.push(`${res.rawTrailers[i]}: ${res.rawTrailers[i + 1]}`);
        resolve({
          status: res.statusCode!,
          reason: res.statusMessage!,
          headers: h,
          trailers: t,
          body: Buffer.concat(parts),
          aborted: aborted || !res.complete,
        });
      });
    });
    req.on("error", reject);
    const write = async () => {
      if (!body) return req.end();
      if (!c.chunked) return req.end(body);
      const n = c.parts ?? 2;
      const size = Math.ceil(body.byteLength / n);
      for (let i = 0; i < body.byteLength; i += size) {
        if (!req.write(body.subarray(i, i + size))) await new Promise((r) => req.once("drain", r));
        await new Promise((r) => setImmediate(r));
      }
      req.end();
    };
    if (c.expectContinue) req.once("continue", () => void write());
    else void write();
  });
}

/** A FormData body's boundary is random: the same in both once named alike. */
function normalize(a: Answer): Answer {
  const type = a.headers.find((h) => h.startsWith("content-type: multipart/form-data"));
  const m = type && /boundary=(.+)$/.exec(type);
  if (!m) return a;
  const boundary = m[1]!;
  const body = Buffer.from(a.body.toString("latin1").split(boundary).join("BOUNDARY"), "latin1");
  const headers = a.headers.map((h) => h.split(boundary).join("BOUNDARY"));
  // Its length follows the boundary's.
  return {
    ...a,
    body,
    headers: headers.map((h) => (h.startsWith("content-length: ") ? "content-length: (boundary)" : h)),
  };
}

describe("web fidelity: frameworks behind Skiff answer as served directly", () => {
  let server: ServerProcess;
  let port: number;
  const direct = new Map<string, { server: Server; port: number }>();

  before(async () => {
    server = await startServer({ args: ["--web-wait-ms", "120000"] });
    port = Number(new URL(server.url).port);
    const d = await skiff(["deploy", "test/fixtures/fidelity-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    for (const f of FRAMEWORKS) {
      const s = createServer(f.make() as never);
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
      direct.set(f.label, { server: s, port: (s.address() as AddressInfo).port });
    }
    // Warm every endpoint's container before the comparisons (they are timed by the runner).
    await Promise.all(
      FRAMEWORKS.map((f) =>
        waitFor(
          async () => (await send(port, hostOf(f.label), { name: "warm", path: "/text" })).status === 200,
          `${f.label} through Skiff`,
          120_000,
        ),
      ),
    );
  });
  after(async () => {
    for (const { server: s } of direct.values()) s.close();
    await server?.stop();
  });

  const hostOf = (label: string) => `fidelity--${label}.localhost:${port}`;

  for (const f of FRAMEWORKS) {
    describe(f.label, () => {
      for (const c of COMMON) {
        if (c.only && !c.only.includes(f.label)) continue;
        it(c.name, async () => {
          const d = direct.get(f.label)!;
          const host = hostOf(f.label);
          const extra: Record<string, string> = {};
          if (c.etagOf) {
            const first = await send(d.port, host, { name: "etag", path: c.etagOf });
            const tag = first.headers.find((h) => h.startsWith("etag: "));
            assert.ok(tag, `${c.etagOf} gave no ETag`);
            extra["if-none-match"] = tag.slice(6);
          }
          const want = normalize(await send(d.port, host, c, extra));
          const got = normalize(await send(port, host, c, extra));
          assert.equal(got.status, want.status, `status (body: ${got.body.toString().slice(0, 300)})`);
          assert.equal(got.reason, want.reason, "reason phrase");
          assert.deepEqual(got.headers, want.headers, "headers");
          assert.deepEqual(got.trailers, want.trailers, "trailers");
          assert.equal(got.aborted, want.aborted, "cut short");
          assert.ok(
            got.body.equals(want.body),
            `body: ${got.body.toString().slice(0, 500)}\n≠ ${want.body.toString().slice(0, 500)}`,
          );
        });
      }
    });
  }
});
