import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Loads the connection's transport and runs one WebSocket handshake, to a server of its own
 * on a socket in the container's private /tmp, while the pooled runtime waits for a container.
 * A process's first handshake runs code that has never run (HTTP client, upgrade, key hash,
 * framing) and takes 10–20 ms more than its second (bench/start-cost.ts): paid here, it is not
 * paid on the way to the container's first input. It talks to nothing outside the process, and
 * gives up quietly (a pooled runtime works without it).
 */
export async function warmHandshake(): Promise<void> {
  const { WebSocket, WebSocketServer } = await import("ws");
  const path = join(process.env.SKIFF_WORKDIR ?? tmpdir(), `.skiff-warm-${process.pid}.sock`);
  // By require: an `import` of node:http loads undici on Node 22+ (see skiff's web/node-request.ts).
  const { createServer } = createRequire(import.meta.url)("node:http") as typeof import("node:http");
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  http.on("upgrade", (req, socket, head) => {
    socket.on("error", () => {});
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("error", () => {}));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(path, () => resolve());
    });
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`ws+unix://${path}:/`, { perMessageDeflate: false });
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        ws.terminate();
        done();
      }, 2000);
      ws.on("open", () => ws.close(1000));
      ws.on("close", done);
      ws.on("error", done);
    });
  } catch {
    // No socket here (a read-only /tmp): the first real handshake is a cold one, nothing worse.
  } finally {
    for (const c of wss.clients) c.terminate();
    wss.close();
    http.close();
    rmSync(path, { force: true });
  }
}
