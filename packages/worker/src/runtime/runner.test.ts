import assert from "node:assert/strict";
import { it } from "node:test";
import { encodeCbor, type InputWire, type OutputWire } from "@skiff/protocol";
import type { Client } from "skiff";
import { perTurn } from "./per-turn.js";
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

it("a generator's items leave before its end, even when another input's output was reported first in the turn", async () => {
  // What leaves the container, in order (the connection sends in this order).
  const sent: string[] = [];
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
    perTurn<OutputWire>((items) => {
      for (const o of items) sent.push(`output ${o.inputId}`);
    }),
    (inputId, _attempt, items) => sent.push(`items ${inputId} ×${items.length}`),
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
