import { Duplex } from "node:stream";
import type { WebRequestWire } from "@skiff/protocol";
import { slices } from "./response-items.js";

/**
 * The socket a handler's request and response hang on. Frameworks read it (`remoteAddress`,
 * `encrypted`, `writable` for on-finished, `destroy()` to cut a response short), and a
 * WebSocket server writes its handshake and frames to it: in tunnel mode (an upgrade), what is
 * written becomes the call's items, and what the client sends is read from the request body.
 */
export class HandlerSocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress = "127.0.0.1";
  readonly localPort = 0;
  readonly connecting = false;
  /** Set once the handler took the socket over (an upgrade): writes are the client's bytes. */
  tunnel = false;
  /** The handler (or its framework) destroyed the socket. */
  onDestroy: ((err: Error | null) => void) | undefined;
  private readonly out: { chunk: Uint8Array; done: (err?: Error | null) => void }[] = [];
  private closedForWrites = false;
  private wake: (() => void) | undefined;
  private source: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private reading = false;

  constructor(w: WebRequestWire) {
    super({ allowHalfOpen: true, decodeStrings: true });
    this.remoteAddress = w.remoteAddress;
    this.remotePort = w.remotePort;
    this.remoteFamily = w.remoteAddress ? (w.remoteAddress.includes(":") ? "IPv6" : "IPv4") : undefined;
  }

  /** What the client sends after the request head (tunnel mode). */
  readFrom(body: ReadableStream<Uint8Array>): void {
    this.source = body.getReader();
  }

  setTimeout(_ms: number, _cb?: () => void): this {
    return this;
  }
  setNoDelay(_on?: boolean): this {
    return this;
  }
  setKeepAlive(_on?: boolean, _delay?: number): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: "IPv4", port: this.localPort };
  }
  get readyState(): string {
    return this.destroyed ? "closed" : "open";
  }

  override _read(): void {
    if (!this.source || this.reading) return;
    this.reading = true;
    this.source.read().then(
      ({ done, value }) => {
        this.reading = false;
        if (done) this.push(null);
        else if (this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) this._read();
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    // Outside a tunnel nothing reads the socket: the response travels by its own methods.
    if (!this.tunnel) {
      done();
      return;
    }
    this.out.push({ chunk, done });
    this.poke();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.closedForWrites = true;
    this.poke();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.closedForWrites = true;
    this.source?.cancel().catch(() => {});
    this.poke();
    this.onDestroy?.(err);
    done(err);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /**
   * Tunnel mode: what the handler writes, as items, until it ends or destroys the socket. A
   * write completes once its item is taken, so a client that does not read slows the writer.
   */
  async *items(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const o = this.out.shift();
      if (o) {
        yield* slices(o.chunk);
        o.done();
        continue;
      }
      if (this.closedForWrites) return;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
}
