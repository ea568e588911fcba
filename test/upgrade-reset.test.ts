// A client that asks for a WebSocket upgrade the server refuses (a wrong path) and resets the
// connection at once must not stop the server: writing the refusal to a reset socket fails
// (EPIPE), and that error on a socket the HTTP server no longer watches once crashed it.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type ServerProcess, startServer } from "./helpers/cli.js";

describe("refused upgrades from clients that reset", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  it("leave the server running", async () => {
    const { hostname, port } = new URL(server.url);
    let exited = false;
    server.proc.once("exit", () => {
      exited = true;
    });
    for (let i = 0; i < 300 && !exited; i++) {
      await new Promise<void>((resolve) => {
        const s = connect(Number(port), hostname, () => {
          s.write("GET /not-an-api HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
          s.resetAndDestroy();
          resolve();
        });
        s.on("error", () => resolve());
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(exited, false, `the server stopped:\n${server.output().slice(-1500)}`);
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
  });
});
