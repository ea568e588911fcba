import { createHash } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";

/**
 * Containers on a worker reach the control plane through the worker: each connects to this
 * unix socket (bound into its sandbox, as on the control plane's own host), and each of those
 * connections is piped, byte for byte, to the control plane over the network. The container
 * still says its own hello with its own container token; the worker reads nothing of it.
 */
export class Relay {
  private readonly server: Server;
  private readonly open = new Set<Socket>();

  private constructor(
    readonly socketPath: string,
    server: Server,
  ) {
    this.server = server;
  }

  static async start(o: { dataDir: string; serverUrl: string; localAddress?: string }): Promise<Relay> {
    const url = new URL(o.serverUrl);
    const tls = url.protocol === "https:";
    const port = Number(url.port || (tls ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const path = socketPathFor(o.dataDir);
    rmSync(path, { force: true });
    let relay: Relay | undefined;
    const server = createServer({ pauseOnConnect: true }, (inner) => {
      const outer = tls
        ? tlsConnect({ host, port, servername: host, ...(o.localAddress ? { localAddress: o.localAddress } : {}) })
        : netConnect({ host, port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
      outer.setNoDelay(true);
      relay?.track(inner, outer);
      // Backpressure both ways: pipe pauses the faster side.
      inner.pipe(outer);
      outer.pipe(inner);
      inner.resume();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
    // Containers may run as another user (nobody), through a bind mount of this socket: as the
    // control plane's own control socket, it is writable by others and stays behind the data
    // directory (0700) on the host; what answers at the other end demands a container token.
    chmodSync(path, 0o666);
    relay = new Relay(path, server);
    return relay;
  }

  private track(inner: Socket, outer: Socket): void {
    this.open.add(inner);
    this.open.add(outer);
    const end = () => {
      inner.destroy();
      outer.destroy();
      this.open.delete(inner);
      this.open.delete(outer);
    };
    inner.once("close", end);
    outer.once("close", end);
    inner.on("error", end);
    outer.on("error", end);
  }

  /** Connections relayed now (each is a container's, counted twice: both ends). */
  get connections(): number {
    return this.open.size / 2;
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.socketPath, { force: true });
  }
}

/** Unix socket paths are limited to ~107 bytes; a long data dir gets a hashed path in /tmp. */
function socketPathFor(dataDir: string): string {
  const p = join(dataDir, "relay.sock");
  if (Buffer.byteLength(p) < 100) return p;
  return join(tmpdir(), `skiff-relay-${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}.sock`);
}
