import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rng } from "../../../test/helpers/seeded-rng.js";
import { encodeCbor } from "./codec.js";
import { decodeFrame, encodeFrame, ProtocolError } from "./frame.js";
import type { Message } from "./messages.js";

const SEEDS = [1, 7, 42, 1234, 99991];
/** 100k in all; SKIFF_FUZZ_CASES sets the total (npm run chaos runs more). */
const CASES_PER_SEED = Math.ceil((Number(process.env.SKIFF_FUZZ_CASES) || 100_000) / SEEDS.length);

describe("frame decoder under random and mutated input", () => {
  const valid = [
    encodeFrame([{ t: "hello", id: 1, p: { v: 1, tokenId: "tk-x", tokenSecret: "ts-y", role: "client" } } as Message]),
    encodeFrame([
      {
        t: "call.create",
        id: 2,
        p: {
          functionId: "fu-1",
          kind: "remote",
          args: encodeCbor([1, "a", new Map([[1, 2]])]),
          idempotencyKey: "k",
          await: true,
        },
      } as Message,
    ]),
    encodeFrame([
      {
        t: "outputs",
        b: {
          items: [
            { inputId: "in-1", attempt: 1, result: { status: "success", data: new Uint8Array([1, 2]) }, durationMs: 3 },
          ],
        },
      } as Message,
    ]),
  ];

  for (const seed of SEEDS) {
    it(`only ever returns messages or throws ProtocolError (seed ${seed})`, () => {
      const next = rng(seed);
      for (let i = 0; i < CASES_PER_SEED; i++) {
        let bytes: Uint8Array;
        if (i % 2 === 0) {
          bytes = new Uint8Array(1 + Math.floor(next() * 64));
          for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(next() * 256);
        } else {
          const base = valid[i % valid.length]!;
          bytes = base.slice(0, 1 + Math.floor(next() * base.length)); // truncated
          const flips = 1 + Math.floor(next() * 4);
          for (let f = 0; f < flips; f++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
        }
        try {
          const msgs = decodeFrame(bytes);
          assert.ok(Array.isArray(msgs));
          for (const m of msgs) assert.equal(typeof m.t, "string");
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw new Error(`seed ${seed} case ${i}: ${(err as Error).stack}`);
        }
      }
    });
  }
});
