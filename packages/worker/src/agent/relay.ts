import { createHash } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { FRAMED_PREAMBLE, FRAMED_UPGRADE_PATH, FRAMED_UPGRADE_TOKEN, preambleState } from "@skiff/protocol";

/** How long a container's connection may stay silent before its first bytes say what it speaks. */
const FIRST_BYTES_MS = 10_000;
/** Largest response head the control plane may send to the framed upgrade. */
const MAX_UPGRADE_HEAD_BYTES = 8192;

/**
 * Containers on a worker reach the control plane through the worker: each connects to this
 * unix socket (bound into its sandbox, as on the control plane's own host), and each of those
 * connections is carried to the control plane over the network. The container still says its
 * own hello with its own container token; the worker reads nothing of it but its first bytes:
 * - the framed stream's preamble (this worker's runtimes): the relay opens the framed upgrade
 *   on the control plane's public port (docs/protocol.md §1a) and then pipes the frames;
 * - anything else (a WebSocket upgrade: user code's own client, an older runtime): piped byte
 *   for byte, from the first.
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
    const dial = () => {
      const outer = tls
        ? tlsConnect({ host, port, servername: host, ...(o.localAddress ? { localAddress: o.localAddress } : {}) })
        : netConnect({ host, port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
      outer.setNoDelay(true);
      return outer;
    };
    const server = createServer((inner) => {
      sniff(inner, (framed, first) => {
        const outer = dial();
        relay?.track(inner, outer);
        if (!framed) return pipeBoth(inner, outer, first);
        inner.pause();
        outer.write(
          `GET ${FRAMED_UPGRADE_PATH} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: ${FRAMED_UPGRADE_TOKEN}\r\n\r\n`,
        );
        upgraded(outer, (ok, rest) => {
          if (!ok) {
            inner.destroy(); // the container's connection fails: it reports and its start is retried
            outer.destroy();
            return;
          }
          if (rest.byteLength > 0) inner.write(rest);
          pipeBoth(inner, outer, first);
        });
      });
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

/**
 * Reads a container's first bytes until they say whether it speaks the framed stream, then
 * calls `decided` with what followed the preamble (framed) or every byte read (other).
 */
function sniff(inner: Socket, decided: (framed: boolean, first: Buffer) => void): void {
  let head: Buffer | undefined;
  const silent = setTimeout(() => inner.destroy(), FIRST_BYTES_MS);
  silent.unref();
  const onData = (chunk: Buffer) => {
    head = head ? Buffer.concat([head, chunk]) : chunk;
    const state = preambleState(head);
    if (state === "undecided") return;
    inner.off("data", onData);
    clearTimeout(silent);
    inner.pause();
    decided(state === "framed", state === "framed" ? head.subarray(FRAMED_PREAMBLE.byteLength) : head);
  };
  inner.on("data", onData);
  inner.on("error", () => inner.destroy());
  inner.once("close", () => clearTimeout(silent));
}

/**
 * Reads the control plane's answer to the framed upgrade: ok once a `101` head has arrived
 * (with any frame bytes that came after it), not ok on any other status, a head past
 * MAX_UPGRADE_HEAD_BYTES, or the connection's end.
 */
function upgraded(outer: Socket, done: (ok: boolean, rest: Buffer) => void): void {
  let head = Buffer.alloc(0);
  let settled = false;
  const finish = (ok: boolean, rest: Buffer) => {
    if (settled) return;
    settled = true;
    outer.off("data", onData);
    outer.off("close", onClose);
    outer.pause();
    done(ok, rest);
  };
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (head.byteLength > MAX_UPGRADE_HEAD_BYTES) finish(false, Buffer.alloc(0));
      return;
    }
    finish(/^HTTP\/1\.1 101 /.test(head.toString("latin1", 0, Math.min(end, 64))), head.subarray(end + 4));
  };
  const onClose = () => finish(false, Buffer.alloc(0));
  outer.on("data", onData);
  outer.once("close", onClose);
}

/** Pipes both ways (backpressure: pipe pauses the faster side), `first` sent on ahead. */
function pipeBoth(inner: Socket, outer: Socket, first: Buffer): void {
  if (first.byteLength > 0) outer.write(first);
  inner.pipe(outer);
  outer.pipe(inner);
  inner.resume();
  outer.resume();
}

/** Unix socket paths are limited to ~107 bytes; a long data dir gets a hashed path in /tmp. */
function socketPathFor(dataDir: string): string {
  const p = join(dataDir, "relay.sock");
  if (Buffer.byteLength(p) < 100) return p;
  return join(tmpdir(), `skiff-relay-${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}.sock`);
}
