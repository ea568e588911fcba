import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import {
  closeFrame,
  FRAME_FINAL,
  FRAME_MORE,
  FramedStreamError,
  FrameReader,
  MAX_FRAME_BYTES,
  writeFrame,
} from "@skiff/protocol";

/**
 * What a Peer needs of its connection: `ws`'s WebSocket has it, and so does FramedSocket. Events:
 * `message` (data, isBinary), `close` (code), `error` (err).
 */
export interface PeerSocket {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: "close", listener: (code: number) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  once(event: "close", listener: (code: number) => void): this;
  send(data: Uint8Array, opts: { binary: true; fin: boolean }, cb?: (err?: Error) => void): void;
  close(code: number, reason: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  readonly bufferedAmount: number;
}

/** How long a closing socket may take to end before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * A container's connection on the control socket in the framed stream (protocol
 * framed-stream.ts): the WebSocket surface a Peer uses, over the unix socket directly.
 */
export class FramedSocket extends EventEmitter implements PeerSocket {
  private readonly reader: FrameReader;
  private closing = false;
  private closedWith: number | undefined;

  constructor(private readonly socket: Socket) {
    super();
    this.reader = new FrameReader(
      {
        message: (data) => this.emit("message", Buffer.from(data.buffer, data.byteOffset, data.byteLength), true),
        close: (code) => {
          // The peer closes: answer with the same code, as a WebSocket does, and end.
          this.closedWith = code;
          if (!this.closing) this.close(code, "");
        },
      },
      MAX_FRAME_BYTES,
    );
    socket.on("data", (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        if (!(err instanceof FramedStreamError)) throw err;
        if (this.listenerCount("error") > 0) this.emit("error", err);
        this.close(err.code, err.message);
      }
    });
    socket.on("error", (err) => {
      if (this.listenerCount("error") > 0) this.emit("error", err);
    });
    socket.once("close", () => {
      clearTimeout(this.closeTimer);
      // No close frame from the peer: the connection was lost (1006, as ws says).
      this.emit("close", this.closedWith ?? 1006);
    });
  }

  private closeTimer: NodeJS.Timeout | undefined;

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  send(data: Uint8Array, opts: { binary: true; fin: boolean }, cb?: (err?: Error) => void): void {
    if (this.closing || this.socket.destroyed) {
      cb?.(new Error("the connection is closed"));
      return;
    }
    const done = cb ? (err?: Error | null) => cb(err ?? undefined) : undefined;
    writeFrame(this.socket, opts.fin ? FRAME_FINAL : FRAME_MORE, data, done);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    if (!this.socket.destroyed) this.socket.end(closeFrame(code, reason));
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  terminate(): void {
    this.closing = true;
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}
