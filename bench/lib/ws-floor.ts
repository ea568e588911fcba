// The floor under any request of a Skiff client: one WebSocket round trip between two Node
// processes (ws, as the client and server use), each side encoding and decoding one CBOR
// frame of the protocol's shape, and the server answering from setImmediate as the server's
// connection does. No store, no routing, no validation: what a Dict get cannot go below.
import { fork } from "node:child_process";
import { createServer } from "node:http";
import { decodeFrame, encodeFrame, type Message } from "@skiff/protocol";
import { WebSocket, WebSocketServer } from "ws";

const value = new Uint8Array(32);

if (process.argv[2] === "serve") {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  wss.on("connection", (s) =>
    s.on("message", (data: Buffer) => {
      const [m] = decodeFrame(data) as { id: number }[];
      const reply = [{ t: "reply", id: m!.id, ok: true, r: { value } }] as unknown as Message[];
      setImmediate(() => s.send(encodeFrame(reply), { binary: true }));
    }),
  );
  process.on("SIGTERM", () => process.exit(0));
  http.listen(0, "127.0.0.1", () => process.send!((http.address() as { port: number }).port));
}

/** Starts the echo server in its own process; `roundTrip()` sends one request and awaits its reply. */
export async function startWsFloor(): Promise<{ roundTrip(): Promise<void>; stop(): Promise<void> }> {
  const child = fork(new URL(import.meta.url).pathname, ["serve"], { execArgv: ["--import", "tsx"] });
  const port = await new Promise<number>((r) => child.once("message", (m) => r(m as number)));
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  await new Promise((r, j) => ws.once("open", r).once("error", j));
  let answer: () => void = () => {};
  ws.on("message", (data: Buffer) => {
    decodeFrame(data);
    answer();
  });
  let id = 1;
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        answer = resolve;
        const msg = [{ t: "dict.get", id: id++, p: { key: "s:k123", objectId: "di-0123456789abcdef" } }];
        setImmediate(() => ws.send(encodeFrame(msg as unknown as Message[])));
      }),
    async stop() {
      ws.close();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}
