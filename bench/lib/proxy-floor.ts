// The floor of the gateway's shape, for bench/web-throughput.ts: an HTTP server that hands each
// request to a second process over one Unix socket and answers with what comes back, as the
// gateway hands requests to a container. Nothing else: no engine, no CBOR, no WebSocket
// framing, no sandbox; messages are newline-separated JSON, coalesced per event-loop turn each
// way (as the gateway's frames are). Run with no argument it is the front (prints its port to
// its parent); with "back" it is the second process.
import { fork } from "node:child_process";
import { createServer, type ServerResponse } from "node:http";
import { connect, createServer as netServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Splits newline-separated messages from a socket. */
function lines(s: Socket, on: (line: string) => void): void {
  let rest = "";
  s.setEncoding("utf8");
  s.on("data", (d: string) => {
    const parts = (rest + d).split("\n");
    rest = parts.pop()!;
    for (const p of parts) on(p);
  });
}

/** Writes what is queued in one turn as one write. */
function batcher(s: Socket): (line: string) => void {
  let out: string[] = [];
  return (line) => {
    if (out.length === 0)
      setImmediate(() => {
        s.write(out.join(""));
        out = [];
      });
    out.push(`${line}\n`);
  };
}

if (process.argv[2] === "back") {
  const s = connect(process.argv[3]!);
  const send = batcher(s);
  lines(s, (l) => {
    const m = JSON.parse(l) as { id: number; method: string; url: string };
    send(JSON.stringify({ id: m.id, status: 200, body: JSON.stringify({ ok: true }) }));
  });
} else {
  const path = join(tmpdir(), `skiff-proxy-floor-${process.pid}.sock`);
  const pending = new Map<number, ServerResponse>();
  let next = 0;
  let send: ((line: string) => void) | undefined;
  const ipc = netServer((s) => {
    send = batcher(s);
    lines(s, (l) => {
      const m = JSON.parse(l) as { id: number; status: number; body: string };
      const res = pending.get(m.id);
      pending.delete(m.id);
      res?.writeHead(m.status, { "content-type": "application/json" }).end(m.body);
    });
    const http = createServer((req, res) => {
      const id = next++;
      pending.set(id, res);
      send!(JSON.stringify({ id, method: req.method, url: req.url, headers: req.rawHeaders }));
    });
    http.listen(0, "127.0.0.1", () => {
      const a = http.address();
      process.send?.({ port: typeof a === "object" && a ? a.port : 0 });
    });
    process.on("SIGTERM", () => {
      back.kill("SIGTERM");
      http.close(() => process.exit(0));
      http.closeAllConnections();
    });
  }).listen(path);
  const back = fork(new URL(import.meta.url), ["back", path], { execArgv: process.execArgv });
  process.on("exit", () => ipc.close());
}
