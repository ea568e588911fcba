import assert from "node:assert/strict";
import { it } from "node:test";
import { decodeFrame, encodeCbor, encodeFrame, type InputWire, type Message } from "@skiff/protocol";
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
