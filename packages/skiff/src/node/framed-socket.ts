import { connect } from "node:net";
import { closeFrame, FRAME_FINAL, FRAMED_PREAMBLE, FramedStreamError, FrameReader, writeFrame } from "@skiff/protocol";
import type { Socket, SocketHandlers } from "../transport/socket.js";

/**
 * The framed stream (protocol framed-stream.ts) to a Skiff server's control socket at `path`:
 * what a runtime the server started speaks there instead of WebSocket. No handshake: the
 * connection is open once connected, and neither `ws` nor `node:http` is loaded for it.
 */
export function openFramedSocket(path: string, maxPayload: number, h: SocketHandlers): Socket {
  const sock = connect({ path });
  let closedWith: { code: number; reason: string } | undefined;
  let closing = false;
  const close = (code: number, reason: string) => {
    if (closing) return;
    closing = true;
    if (!sock.destroyed) sock.end(closeFrame(code, reason));
    setTimeout(() => sock.destroy(), 1000).unref();
  };
  const reader = new FrameReader(
    {
      message: (data) => h.onMessage(data),
      close: (code, reason) => {
        closedWith = { code, reason };
        close(code, ""); // answered with the same code, as a WebSocket does
      },
    },
    maxPayload,
  );
  sock.on("connect", () => {
    sock.write(FRAMED_PREAMBLE);
    h.onConnect();
    h.onOpen();
  });
  sock.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (err) {
      if (!(err instanceof FramedStreamError)) throw err;
      closedWith = { code: err.code, reason: err.message };
      close(err.code, err.message);
    }
  });
  sock.on("error", (err) => h.onError(err));
  sock.once("close", () => h.onClose(closedWith?.code ?? 1006, closedWith?.reason ?? ""));
  return {
    send(data) {
      if (closing || sock.destroyed) throw new Error("the connection is closed");
      writeFrame(sock, FRAME_FINAL, data);
    },
    close: (code = 1000, reason = "") => close(code, reason),
    setKeepAlive: (alive) => (alive ? sock.ref() : sock.unref()),
    bufferedAmount: () => sock.writableLength,
    usable: () => true,
  };
}
