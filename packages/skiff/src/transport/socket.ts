/**
 * The smallest WebSocket surface the connection needs, over `ws` on Node (which also
 * reaches unix sockets and can be unref'd so an idle client does not keep a script
 * alive) and over the runtime's global WebSocket elsewhere (browsers, Deno, edge).
 */
export interface Socket {
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Lets the process exit while the socket is idle (Node only; a no-op elsewhere). */
  setKeepAlive(alive: boolean): void;
  /** Bytes queued in the socket but not yet written. */
  bufferedAmount(): number;
}

export interface SocketHandlers {
  /** The transport (TCP, unix socket) is connected; the WebSocket handshake follows. */
  onConnect(): void;
  onOpen(): void;
  onMessage(data: Uint8Array): void;
  onClose(code: number, reason: string): void;
  onError(err: Error): void;
}

const isNode =
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

/** Turns a server URL (`http://…`, `https://…`, `unix:/path`) into the WebSocket endpoint. */
export function websocketUrl(serverUrl: string): string {
  if (serverUrl.startsWith("unix:")) return `ws+unix:${serverUrl.slice(5)}:/v1/ws`;
  const u = new URL(serverUrl);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  u.pathname = `${u.pathname.replace(/\/$/, "")}/v1/ws`;
  return u.toString();
}

export async function openSocket(
  url: string,
  maxPayload: number,
  caFile: string | undefined,
  h: SocketHandlers,
): Promise<Socket> {
  if (isNode || url.startsWith("ws+unix:")) {
    const { WebSocket } = await import("ws");
    // Certificates are always verified; a custom CA is what this server's is checked against.
    const ca = caFile ? [(await import("node:fs")).readFileSync(caFile, "utf8")] : undefined;
    const ws = new WebSocket(url, { maxPayload, perMessageDeflate: false, ...(ca ? { ca } : {}) });
    ws.binaryType = "nodebuffer";
    // The TCP (or unix socket) connection, seen before the handshake: a server that accepted
    // it exists, however slow it then is to answer.
    (ws as unknown as { _req?: import("node:http").ClientRequest })._req?.once("socket", (sock) =>
      sock.once("connect", () => h.onConnect()),
    );
    ws.on("open", () => h.onOpen());
    ws.on("message", (data: Buffer) => h.onMessage(data));
    ws.on("close", (code: number, reason: Buffer) => h.onClose(code, reason.toString()));
    ws.on("error", (err: Error) => h.onError(err));
    return {
      send: (data) => ws.send(data),
      close: (code, reason) => ws.close(code, reason),
      setKeepAlive(alive) {
        const raw = (ws as unknown as { _socket?: { ref(): void; unref(): void } })._socket;
        if (raw) alive ? raw.ref() : raw.unref();
      },
      bufferedAmount: () => ws.bufferedAmount,
    };
  }
  const G = (globalThis as unknown as { WebSocket: typeof WebSocket }).WebSocket;
  const ws = new G(url);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    h.onConnect();
    h.onOpen();
  };
  ws.onmessage = (ev) => h.onMessage(new Uint8Array(ev.data as ArrayBuffer));
  ws.onclose = (ev) => h.onClose(ev.code, ev.reason);
  ws.onerror = () => h.onError(new Error("WebSocket error"));
  return {
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
    setKeepAlive() {},
    bufferedAmount: () => ws.bufferedAmount,
  };
}
