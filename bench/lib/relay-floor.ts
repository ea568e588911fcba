// The floor under a warm `.remote()`: the same four hops with no Skiff in them. A client sends a
// CBOR frame over a WebSocket on loopback TCP to a relay process; the relay hands it on over a
// WebSocket on a unix socket (unmasked, as a container's is) to a worker process, which squares
// the number and answers; the relay passes the answer back. Each process decodes and encodes one
// frame of the protocol's shape per hop and writes from setImmediate, as Skiff's connections do.
// No store, no scheduling, no validation: what Skiff adds to a call is its figure minus this one.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeFrame, encodeFrame, type Message } from "@skiff/protocol";
import { WebSocket, WebSocketServer } from "ws";

type Frame = { t: string; id?: number; b?: { x: number; id: number }; r?: { y: number } };
const send = (s: WebSocket, m: Frame) =>
  setImmediate(() => s.send(encodeFrame([m] as unknown as Message[]), { binary: true }));
const first = (data: Buffer) => (decodeFrame(data) as unknown as Frame[])[0]!;

if (process.argv[2] === "relay") {
  const socketPath = process.argv[3]!;
  let worker: WebSocket | undefined;
  let caller: WebSocket | undefined;
  const inner = createServer();
  new WebSocketServer({ server: inner, perMessageDeflate: false }).on("connection", (s) => {
    worker = s;
    s.on("message", (data: Buffer) => {
      const m = first(data);
      send(caller!, { t: "reply", id: m.b!.id, r: { y: (m.b as unknown as { y: number }).y } });
    });
  });
  const outer = createServer();
  new WebSocketServer({ server: outer, perMessageDeflate: false }).on("connection", (s) => {
    caller = s;
    s.on("message", (data: Buffer) => {
      const m = first(data);
      send(worker!, { t: "inputs", b: { x: m.b!.x, id: m.id! } });
    });
  });
  process.on("SIGTERM", () => process.exit(0));
  inner.listen(socketPath, () =>
    outer.listen(0, "127.0.0.1", () => process.send!((outer.address() as { port: number }).port)),
  );
} else if (process.argv[2] === "worker") {
  const ws = new WebSocket(`ws+unix:${process.argv[3]}`, {
    perMessageDeflate: false,
    generateMask: (mask: Buffer) => mask.fill(0),
  });
  ws.on("message", (data: Buffer) => {
    const m = first(data);
    send(ws, { t: "outputs", b: { id: m.b!.id, y: m.b!.x * m.b!.x } as unknown as { x: number; id: number } });
  });
  ws.once("open", () => process.send!("ready"));
  process.on("SIGTERM", () => process.exit(0));
}

/** Starts the relay and the worker in processes of their own; `call(x)` resolves to x². */
export async function startRelayFloor(): Promise<{
  call(x: number): Promise<number>;
  /** The relay's and the worker's process ids (their CPU beside the server's and the container's). */
  pids: { relay: number; worker: number };
  stop(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-relay-floor-"));
  const socketPath = join(dir, "relay.sock");
  const self = new URL(import.meta.url).pathname;
  const execArgv = ["--import", "tsx"];
  const relay = fork(self, ["relay", socketPath], { execArgv });
  const port = await new Promise<number>((r) => relay.once("message", (m) => r(m as number)));
  const worker = fork(self, ["worker", socketPath], { execArgv });
  await new Promise((r) => worker.once("message", r));
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  await new Promise((r, j) => ws.once("open", r).once("error", j));
  let answer: (y: number) => void = () => {};
  ws.on("message", (data: Buffer) => answer(first(data).r!.y));
  let id = 1;
  return {
    pids: { relay: relay.pid!, worker: worker.pid! },
    call: (x) =>
      new Promise<number>((resolve) => {
        answer = resolve;
        send(ws, { t: "call.create", id: id++, b: { x, id: 0 } });
      }),
    async stop() {
      ws.close();
      for (const p of [worker, relay]) {
        p.kill("SIGTERM");
        await new Promise((r) => p.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
