import { decodeFrame, encodeFrame, type Message, PROTOCOL_VERSION } from "@skiff/protocol";
import WebSocket from "ws";

/** A bare protocol client (no SDK): for tests that must misbehave, e.g. never acknowledge. */
export interface RawClient {
  request(t: string, p: Record<string, unknown>): Promise<{ ok: boolean; r?: unknown; error?: { message: string } }>;
  /** Drops the TCP connection at once. */
  drop(): void;
}

export async function rawClient(url: string, token: { tokenId: string; tokenSecret: string }): Promise<RawClient> {
  const ws = new WebSocket(`${url.replace("http", "ws")}/v1/ws`, { maxPayload: 200 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  ws.on("message", (d: Buffer) => {
    for (const m of decodeFrame(d) as unknown as Record<string, unknown>[]) {
      if (m.t === "reply") waiting.get(m.id as number)?.(m);
    }
  });
  ws.on("error", () => {});
  let next = 1;
  const request = (t: string, p: Record<string, unknown>) =>
    new Promise<{ ok: boolean; r?: unknown; error?: { message: string } }>((resolve) => {
      const id = next++;
      waiting.set(id, (m) => resolve(m as never));
      ws.send(encodeFrame([{ t, id, p } as unknown as Message]));
    });
  const hello = await request("hello", { v: PROTOCOL_VERSION, ...token, role: "client", sessionId: "ss-raw" });
  if (!hello.ok) throw new Error(`hello failed: ${hello.error?.message}`);
  return { request, drop: () => ws.terminate() };
}

// Raw sockets for tests that behave as no SDK would (stop reading, never say hello, connect
// from another loopback address).

export function openWs(url: string, opts: { localAddress?: string } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/v1/ws`, {
      maxPayload: 200 * 1024 * 1024,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

export function helloFrame(tokenId: string, tokenSecret: string, id = 1): Uint8Array {
  return encodeFrame([{ t: "hello", id, p: { v: PROTOCOL_VERSION, tokenId, tokenSecret, role: "client" } } as Message]);
}

/** The messages of the next frame (a reply's `ok` typed for the checks tests make). */
export function nextMessages(ws: WebSocket): Promise<(Message & { ok?: boolean })[]> {
  return new Promise((resolve) => ws.once("message", (d: Buffer) => resolve(decodeFrame(d))));
}

export function closedWith(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Stops taking bytes from the socket: the kernel's buffers fill, then the server's. */
export function stopReading(ws: WebSocket): void {
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
}
