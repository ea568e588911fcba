import {
  decodeFrame,
  type EventMap,
  type EventName,
  encodeFrames,
  MAX_FRAME_BYTES,
  type Message,
  PROTOCOL_VERSION,
  type RequestMap,
  type RequestName,
  type WireErrorBody,
} from "@skiff/protocol";
import WebSocket from "ws";

/** A refusal by the control plane (bad token, other version, nonsense capacity): retrying will not help. */
export class RefusedError extends Error {
  override name = "RefusedError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ControlLinkOptions {
  /** The control plane's URL (http(s)://host:port). */
  serverUrl: string;
  tokenId: string;
  tokenSecret: string;
  /** Local address to dial from (a worker with several addresses). */
  localAddress?: string;
  /** Protocol version to say in hello (tests of the refusal). @defaultValue PROTOCOL_VERSION */
  helloVersion?: number;
  /** @defaultValue 10_000 */
  connectTimeoutMs?: number;
}

const FATAL = new Set(["unauthenticated", "permission_denied", "protocol", "invalid_argument", "failed_precondition"]);

/**
 * The agent's one WebSocket to the control plane: hello as a worker, requests with replies,
 * events both ways (batched per tick, as every peer does), and a liveness check: a link that
 * hears nothing (no message, no pong) for `silentMs` is cut, so the agent notices a dead or
 * unreachable control plane as fast as the control plane notices a dead worker.
 */
export class ControlLink {
  private ws: WebSocket | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();
  private readonly handlers = new Map<string, (b: never) => void>();
  private outbox: Message[] = [];
  private flushing = false;
  private closedCb: ((why: string) => void) | undefined;
  private lastHeard = Date.now();
  private watch: NodeJS.Timeout | undefined;
  private done = false;

  constructor(private readonly o: ControlLinkOptions) {}

  /** Opens the socket and says hello; throws RefusedError when the control plane refuses. */
  async open(): Promise<void> {
    const base = this.o.serverUrl.replace(/\/+$/, "").replace(/^http/, "ws");
    const ws = new WebSocket(`${base}/v1/ws`, {
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: this.o.connectTimeoutMs ?? 10_000,
      ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}),
    });
    ws.binaryType = "nodebuffer";
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", (err) => reject(err));
      ws.once("close", (code, reason) => reject(new Error(`closed (${code}) ${reason.toString()}`)));
    });
    ws.on("message", (data: Buffer) => this.onFrame(data));
    ws.on("pong", () => (this.lastHeard = Date.now()));
    ws.on("error", () => {});
    ws.on("close", (code, reason) =>
      this.onClose(`the connection closed (${code}${reason.length ? `: ${reason}` : ""})`),
    );
    await this.request("hello", {
      v: this.o.helloVersion ?? PROTOCOL_VERSION,
      tokenId: this.o.tokenId,
      tokenSecret: this.o.tokenSecret,
      role: "worker",
    });
  }

  /** Cuts the link when nothing is heard for `silentMs`; pings every `everyMs`. */
  keepAlive(everyMs: number, silentMs: number): void {
    this.lastHeard = Date.now();
    this.watch = setInterval(() => {
      if (Date.now() - this.lastHeard > silentMs) {
        this.ws?.terminate();
        this.onClose(`the control plane was silent for ${Math.round(silentMs / 1000)} s`);
        return;
      }
      try {
        this.ws?.ping();
      } catch {
        // closing: the close handler reports it
      }
    }, everyMs);
    this.watch.unref();
  }

  onClosed(cb: (why: string) => void): void {
    this.closedCb = cb;
  }

  on<N extends EventName>(name: N, fn: (b: EventMap[N]) => void): void {
    this.handlers.set(name, fn as (b: never) => void);
  }

  emit<N extends EventName>(name: N, body: EventMap[N]): void {
    this.push({ t: name, b: body } as Message);
  }

  request<N extends RequestName>(name: N, p: RequestMap[N][0]): Promise<RequestMap[N][1]> {
    if (this.done) return Promise.reject(new Error("the link to the control plane is closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.push({ t: name, id, p } as Message);
    });
  }

  close(): void {
    this.ws?.close(1000, "worker stopping");
    this.onClose("the worker is stopping");
  }

  private push(m: Message): void {
    if (this.done) return;
    this.outbox.push(m);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const msgs = this.outbox;
        this.outbox = [];
        if (this.done || this.ws?.readyState !== WebSocket.OPEN) return;
        for (const f of encodeFrames(msgs)) this.ws.send(f);
      });
    }
  }

  private onFrame(data: Buffer): void {
    this.lastHeard = Date.now();
    let msgs: Message[];
    try {
      msgs = decodeFrame(data);
    } catch (err) {
      this.ws?.close(1002, (err as Error).message.slice(0, 100));
      return;
    }
    for (const m of msgs) {
      if (m.t === "reply") {
        const r = m as { id: number; ok: boolean; r?: unknown; error?: WireErrorBody };
        const w = this.pending.get(r.id);
        if (!w) continue;
        this.pending.delete(r.id);
        if (r.ok) w.resolve(r.r);
        else {
          const code = r.error?.code ?? "internal";
          const msg = r.error?.message ?? "the request failed";
          w.reject(FATAL.has(code) ? new RefusedError(code, msg) : new Error(msg));
        }
        continue;
      }
      const h = this.handlers.get(m.t);
      if (h) h((m as unknown as { b: never }).b);
    }
  }

  private onClose(why: string): void {
    if (this.done) return;
    this.done = true;
    if (this.watch) clearInterval(this.watch);
    for (const w of this.pending.values()) w.reject(new Error(`lost the control plane: ${why}`));
    this.pending.clear();
    this.closedCb?.(why);
  }
}
