import { type IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { decodePayload, type Payload, type ResultWire } from "@skiff/protocol";
import type { Endpoint } from "./endpoints.js";
import { WebCall, type WebCallHost } from "./web-call.js";

/** A ServerResponse written straight to an upgrade request's socket, closed when it is done. */
export function responseOn(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as never);
  res.on("finish", () => socket.end());
  return res;
}

/**
 * One upgrade request in flight (a WebSocket). The handler either takes the socket over, and
 * then every item of its call is raw bytes for the client (its own `101` first), or answers as
 * to any request (no upgrade listener, a refused upgrade): then a WebCall writes that response
 * on the socket and closes it. Raw bytes are acknowledged once the socket took them, so a
 * client that does not read stops the handler's writes (its `ws.send` buffers, as on Node).
 */
export class WebTunnel {
  private mode: "raw" | WebCall | undefined;
  private unacked = 0;
  private blocked = false;
  private over = false;

  constructor(
    readonly callId: string,
    readonly requestId: string,
    private readonly endpoint: Endpoint,
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly host: WebCallHost,
  ) {
    socket.on("close", () => {
      // The client went away: the handler's socket closes and the input is freed.
      if (!this.over) {
        this.over = true;
        host.cancel(callId);
      }
    });
  }

  onItems(items: Payload[], end?: ResultWire): void {
    if (this.mode instanceof WebCall) {
      this.mode.onItems(items, end);
      return;
    }
    if (this.over) return;
    for (let i = 0; i < items.length; i++) {
      const p = items[i];
      let item: unknown;
      try {
        item = p instanceof Uint8Array ? decodePayload(p) : undefined;
      } catch {
        item = undefined;
      }
      if (!this.mode && !(item instanceof Uint8Array)) {
        this.asResponse(items.slice(i), end);
        return;
      }
      this.mode = "raw";
      this.unacked++;
      if (item instanceof Uint8Array && !this.socket.write(item)) this.waitDrain();
    }
    if (end && !this.mode) {
      this.asResponse([], end);
      return;
    }
    if (end) {
      this.over = true;
      if (end.status === "success") this.socket.end();
      else this.socket.destroy();
      return;
    }
    this.maybeAck();
  }

  /** Not taken over: an ordinary response (or the call's error), written on the socket. */
  private asResponse(items: Payload[], end: ResultWire | undefined): void {
    const call = new WebCall(
      this.callId,
      this.requestId,
      this.endpoint,
      { "skiff-request-id": this.requestId },
      this.host,
    );
    this.mode = call;
    call.attach(responseOn(this.req, this.socket));
    call.onItems(items, end);
  }

  private waitDrain(): void {
    if (this.blocked) return;
    this.blocked = true;
    this.socket.once("drain", () => {
      this.blocked = false;
      this.maybeAck();
    });
  }

  private maybeAck(): void {
    if (this.unacked === 0 || this.blocked || this.over) return;
    const n = this.unacked;
    this.unacked = 0;
    this.host.ack(this.callId, n);
  }
}
