import assert from "node:assert/strict";
import { it } from "node:test";
import { decodeCbor, decodeFrame, encodeCbor, encodeFrame, type InputWire, type Message } from "@skiff/protocol";
import type { Client } from "skiff";
import { Connection } from "skiff/internal";
import { WebSocketServer } from "ws";
import { outputReporter } from "./report-outputs.js";
import { InputRunner } from "./runner.js";
import type { Target } from "./target.js";

const wire = (inputId: string, method: string): InputWire => ({
  inputId,
  callId: `c-${inputId}`,
  attempt: 1,
  args: encodeCbor([]),
  timeoutMs: 60_000,
  method,
});

it("a generator's items leave before its end, even when another input's output was reported first in the turn", async (t) => {
  // What leaves the container, in order, as a server receives it over the runtime's connection.
  const sent: string[] = [];
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  wss.on("connection", (ws) =>
    ws.on("message", (data: Buffer) => {
      for (const m of decodeFrame(data) as (Message & { id?: number; b?: Record<string, unknown> })[]) {
        if (m.t === "hello") ws.send(encodeFrame([{ t: "reply", id: m.id!, ok: true, r: {} }] as Message[]));
        else if (m.t === "outputs")
          for (const o of m.b!.items as { inputId: string }[]) sent.push(`output ${o.inputId}`);
        else if (m.t === "gen.items") sent.push(`items ${m.b!.inputId} ×${(m.b!.items as unknown[]).length}`);
      }
    }),
  );
  const conn = new Connection({
    serverUrl: `http://127.0.0.1:${(wss.address() as { port: number }).port}`,
    tokenId: "t",
    tokenSecret: "s",
    role: "container",
  });
  t.after(async () => {
    conn.close();
    await new Promise((r) => wss.close(r));
  });
  await conn.connect();
  const target: Target = {
    invoke: (method) =>
      method === "gen"
        ? (async function* () {
            // A few microtasks: the plain input's output is reported in this turn before the yield.
            for (let i = 0; i < 5; i++) await null;
            yield "item";
          })()
        : Promise.resolve("plain"),
    isGenerator: (method) => method === "gen",
    plain: false,
    generator: false,
    enter: async () => {},
    exit: async () => {},
  };
  const runner = new InputRunner(
    target,
    undefined as unknown as Client, // not used: arguments and items are inline
    outputReporter(conn),
    (inputId, attempt, items) => conn.emit("gen.items", { inputId, attempt, items }),
  );
  runner.start(wire("plain", "plain"));
  runner.start(wire("gen", "gen"));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    sent.filter((s) => s.includes("gen")),
    ["items gen ×1", "output gen"],
  );
  assert.ok(sent.includes("output plain"));
});

/** A runner of a web endpoint with a direct way in; records what it sends, in order. */
function webRunner(direct: (w: { url: string }) => unknown) {
  const sent: string[] = [];
  const target: Target = {
    invoke: () => {
      throw new Error("a web request with a direct way in never runs the generator");
    },
    isGenerator: () => true,
    plain: false,
    generator: true,
    enter: async () => {},
    exit: async () => {},
  };
  const runner = new InputRunner(
    target,
    undefined as unknown as Client,
    (out) => sent.push(`output ${out.inputId} ${out.result.status}`),
    (inputId, _attempt, items) =>
      sent.push(`items ${inputId} ${items.map((i) => JSON.stringify(decodeCbor(i as Uint8Array))).join(" ")}`),
    { webDirect: direct as (w: never) => unknown, window: 2 },
  );
  const request = (inputId: string, url: string): InputWire => ({
    inputId,
    callId: `c-${inputId}`,
    attempt: 1,
    args: encodeCbor([{ url }]),
    timeoutMs: 60_000,
  });
  return { sent, runner, request };
}

it("a web request with a direct way in: a whole answer is its one item, then the output, in the same turn", () => {
  const { sent, runner, request } = webRunner((w) => ({ status: 200, headers: [], url: w.url, end: true }));
  runner.start(request("a", "/x"));
  assert.deepEqual(sent, ['items a {"status":200,"headers":[],"url":"/x","end":true}', "output a success"]);
  assert.equal(runner.busy, 0);
});

it("a web request with a direct way in: an answer that comes later, a failure, and a stream", async () => {
  const { sent, runner, request } = webRunner((w) => {
    if (w.url === "/later") return Promise.resolve({ status: 201, headers: [], end: true });
    if (w.url === "/throws") throw new Error("bad request wire");
    if (w.url === "/rejects") return Promise.reject(new Error("no"));
    return (async function* () {
      yield { status: 200, headers: [] };
      for (let i = 0; i < 3; i++) yield new Uint8Array([i]);
    })();
  });
  runner.start(request("later", "/later"));
  runner.start(request("throws", "/throws"));
  runner.start(request("rejects", "/rejects"));
  runner.start(request("stream", "/stream"));
  assert.deepEqual(sent, ["output throws failure"]);
  await new Promise((r) => setTimeout(r, 20));
  // The stream's window is 2 items: it waits for the consumer after two.
  assert.deepEqual(sent.slice(1), [
    'items later {"status":201,"headers":[],"end":true}',
    "output later success",
    "output rejects failure",
    'items stream {"status":200,"headers":[]} {"0":0}',
  ]);
  runner.ack("stream", 2);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(sent.slice(5), ['items stream {"0":1} {"0":2}']);
  runner.ack("stream", 2);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(sent.slice(6), ["output stream success"]);
  assert.equal(runner.busy, 0);
});
