import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { it } from "node:test";
import { ConnectionGate } from "./connection-gate.js";

/** Enough of a socket for the gate: an address, `close`, and destroy() that closes it. */
function fakeSocket(remoteAddress: string): Socket & { wasDestroyed(): boolean } {
  const s = new EventEmitter() as EventEmitter & { remoteAddress: string; destroyed: boolean };
  s.remoteAddress = remoteAddress;
  s.destroyed = false;
  return Object.assign(s, {
    destroy() {
      if (s.destroyed) return;
      s.destroyed = true;
      s.emit("close");
    },
    wasDestroyed: () => s.destroyed,
  }) as unknown as Socket & { wasDestroyed(): boolean };
}

const limits = {
  maxPerAddress: 1000,
  maxSockets: 100_000,
  maxUnauthenticated: 50,
  maxApiConnections: 10,
  maxWebRequests: 10,
};

it("past the unauthenticated cap it ages out the heaviest address's oldest socket, never a lone client's", () => {
  const gate = new ConnectionGate(limits, () => {});
  const flood: ReturnType<typeof fakeSocket>[] = [];
  // Addresses come and go (their sockets close), so the heaviest changes many times over.
  for (let round = 0; round < 20; round++) {
    const real = fakeSocket("127.0.0.1");
    gate.accept(real);
    for (let i = 0; i < 60; i++) {
      const s = fakeSocket(`127.0.0.${2 + ((round + i) % 7)}`);
      gate.accept(s);
      flood.push(s);
    }
    assert.equal(real.wasDestroyed(), false, `round ${round}: the real client's socket was aged out`);
    assert.ok(gate.stats().unproven <= limits.maxUnauthenticated);
    real.destroy();
    // Half the flood closes by itself.
    for (const s of flood.splice(0, flood.length / 2)) s.destroy();
  }
  for (const s of flood) s.destroy();
  assert.deepEqual(gate.stats(), { sockets: 0, unproven: 0, api: 0, web: 0, addresses: 0 });
  gate.close();
});

it("the oldest socket of the heaviest address goes first", () => {
  const gate = new ConnectionGate({ ...limits, maxUnauthenticated: 3 }, () => {});
  const a1 = fakeSocket("10.0.0.1");
  const a2 = fakeSocket("10.0.0.1");
  const b1 = fakeSocket("10.0.0.2");
  for (const s of [a1, a2, b1]) gate.accept(s);
  const a3 = fakeSocket("10.0.0.1");
  gate.accept(a3);
  assert.deepEqual(
    [a1, a2, a3, b1].map((s) => s.wasDestroyed()),
    [true, false, false, false],
  );
  gate.close();
});
