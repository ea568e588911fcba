import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FRAMED_PREAMBLE } from "@skiff/protocol";
import { Relay } from "./relay.js";

/**
 * The control plane's public port, as far as the relay sees it: records what each connection
 * sends; a framed upgrade is answered with `answer` (then `afterHead`), and what follows is
 * echoed back prefixed with "echo:".
 */
function fakeControlPlane(answer: () => string, afterHead = "") {
  const seen: Buffer[] = [];
  const server = createServer((s) => {
    let got = Buffer.alloc(0);
    const i = seen.push(got) - 1;
    let upgraded = false;
    s.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      seen[i] = got;
      if (upgraded) {
        s.write(`echo:${d.toString("latin1")}`);
        return;
      }
      const end = got.indexOf("\r\n\r\n");
      if (end < 0 || !got.toString("latin1").startsWith("GET /v1/framed ")) return;
      upgraded = true;
      s.write(answer() + afterHead);
      const rest = got.subarray(end + 4);
      if (rest.byteLength > 0) s.write(`echo:${rest.toString("latin1")}`);
    });
    s.on("error", () => {});
  });
  return { server, seen };
}

/** Connects to the relay, writes `chunks` a little apart, and collects what comes back until it closes or `ms` pass. */
async function client(path: string, chunks: (string | Uint8Array)[], ms = 400): Promise<string> {
  const s: Socket = connect({ path });
  await once(s, "connect");
  let got = "";
  s.on("data", (d: Buffer) => (got += d.toString("latin1")));
  s.on("error", () => {});
  for (const c of chunks) {
    s.write(c);
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.race([once(s, "close"), new Promise((r) => setTimeout(r, ms))]);
  s.destroy();
  return got;
}

describe("the worker's relay: containers' connections to the control plane", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-relay-"));
  let status = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: skiff-framed/1\r\n\r\n";
  const cp = fakeControlPlane(() => status, "early");
  let relay: Relay;
  before(async () => {
    await new Promise<void>((r) => cp.server.listen(0, "127.0.0.1", r));
    const port = (cp.server.address() as AddressInfo).port;
    relay = await Relay.start({ dataDir: dir, serverUrl: `http://127.0.0.1:${port}` });
  });
  after(async () => {
    await relay.close();
    cp.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("carries the framed stream in an upgrade: the preamble (even cut in two) is not sent on, frames are, both ways", async () => {
    const before = cp.seen.length;
    const got = await client(relay.socketPath, [
      FRAMED_PREAMBLE.subarray(0, 3),
      FRAMED_PREAMBLE.subarray(3),
      "frame-1",
    ]);
    const sent = cp.seen[before]!.toString("latin1");
    assert.match(sent, /^GET \/v1\/framed HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(sent, /\r\nConnection: Upgrade\r\nUpgrade: skiff-framed\/1\r\n\r\n/);
    assert.equal(sent.slice(sent.indexOf("\r\n\r\n") + 4), "frame-1");
    // What came after the 101 in its own packet reaches the container first, then the echo.
    assert.equal(got, "earlyecho:frame-1");
  });

  it("pipes anything else byte for byte, from the first (a WebSocket upgrade)", async () => {
    const before = cp.seen.length;
    const ws = "GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n";
    await client(relay.socketPath, [ws]);
    assert.equal(cp.seen[before]!.toString("latin1"), ws);
  });

  it("closes the container's connection when the control plane does not switch protocols", async () => {
    status = "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n";
    try {
      const got = await client(relay.socketPath, [FRAMED_PREAMBLE, "frame-1"], 3000);
      assert.equal(got, "", "nothing of the refusal reaches the container");
      assert.equal(relay.connections, 0);
    } finally {
      status = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    }
  });
});
