import {
  agreeHot,
  CLOSE_UNAUTHENTICATED,
  decodeFrame,
  type EventMap,
  type EventName,
  encodeFrame,
  encodeFrames,
  HOT_FRAMES_VERSION,
  MAX_FRAME_BYTES,
  type Message,
  newId,
  PROTOCOL_VERSION,
  type ReplyMessage,
  type RequestName,
  type RequestParams,
  type RequestResult,
} from "@skiff/protocol";
import {
  AuthError,
  ConnectionError,
  errorFromWire,
  NotSupportedError,
  RemoteProtocolError,
  type SkiffError,
} from "../errors.js";
import { IS_WORKERD, needNode } from "../platform.js";
import { openSocket, type Socket, type SocketHandlers, websocketUrl } from "./socket.js";

export interface ConnectionOptions {
  serverUrl: string;
  tokenId: string;
  tokenSecret: string;
  role: "client" | "container";
  containerId?: string;
  /**
   * How long to keep trying to get back a connection that was established and dropped,
   * before failing waiting requests. @defaultValue 60_000
   */
  reconnectTimeoutMs?: number;
  /**
   * How long the first connection may go unanswered. A client's first connection is not
   * retried: a server that is down or wrong is reported at once. @defaultValue 2000
   */
  connectTimeoutMs?: number;
  /** How long a server that accepted the connection may take to answer. @defaultValue 10_000 */
  answerTimeoutMs?: number;
  /** Where `serverUrl` was configured (`profile "x" in ~/.skiff.toml`), named in errors. */
  configSource?: string;
  /** Keep the process alive while idle (containers do; scripts should not). @defaultValue false */
  keepAlive?: boolean;
  /**
   * Close the socket as soon as nothing waits on it (the next request opens another). On by
   * default under workerd, where a socket belongs to the request that opened it: one left open
   * would outlive that request (workerd does not close it) and no later request may use it.
   */
  closeWhenIdle?: boolean;
  /** PEM file of the CA that signed the server's certificate (https servers, Node only). */
  caFile?: string;
  /**
   * Speak the framed stream (protocol framed-stream.ts) on a `unix:` server URL instead of
   * WebSocket: a runtime on its Skiff server's own control socket (not a worker's relay).
   */
  framed?: boolean;
  /**
   * Offer the server hot-path tuples (protocol hot.ts). Off: objects only, as an older peer
   * sends (tests of that peer; also SKIFF_HOT_FRAMES=0). @defaultValue true
   */
  hotFrames?: boolean;
}

export interface RequestOptions {
  /**
   * Safe to send again after a reconnect (the server deduplicates it, e.g. by idempotency
   * key). Non-retryable requests fail with ConnectionError when the connection drops.
   */
  retryable?: boolean;
}

interface Pending {
  msg: Message;
  retryable: boolean;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

type State = "idle" | "connecting" | "open" | "closed";

/** Runs `fn` after the I/O callbacks of this turn of the event loop (where there is one). */
const later = (fn: () => void) => {
  const g = globalThis as { setImmediate?: (fn: () => void) => void };
  if (g.setImmediate) g.setImmediate(fn);
  else setTimeout(fn, 0);
};

/** "61 s", "1.5 s". */
const formatSeconds = (ms: number) => `${ms >= 10_000 ? Math.round(ms / 1000) : (ms / 1000).toFixed(1)} s`;

/** How long a server that accepted a connection may take to answer its handshake and hello. */
const ANSWER_MS = 10_000;

/**
 * One multiplexed WebSocket to the control plane. Requests and events produced in the same
 * tick leave in one frame (the socket is "corked" until the next tick); a dropped connection
 * is resumed and retryable requests are sent again.
 */
export class Connection {
  private socket: Socket | undefined;
  /** The socket being opened, before the hello is answered (checked for use from another request). */
  private openingSocket: Socket | undefined;
  private state: State = "idle";
  /** Why the connection was given up for good: what every later request is told. */
  private closedBy: SkiffError | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private outbox: Message[] = [];
  private flushScheduled = false;
  private readonly flushHooks: (() => void)[] = [];
  /** flushSoon was asked and the hooks have not run since: they hold something to send. */
  private hooksHaveWork = false;
  private opening: Promise<void> | undefined;
  private readonly handlers = new Map<string, (body: unknown) => void>();
  private closeListeners: ((err: SkiffError) => void)[] = [];
  private disconnectedSince = 0;
  private holds = 0;
  /** Set once a connection was established: only then is a failure worth retrying. */
  private everOpened = false;
  /** Identifies this client to the server across reconnects. */
  readonly sessionId = newId("ss");
  /** The current connection's prefix for idempotency keys (hello reply), and the last n used. */
  private keyPrefix: string | undefined;
  private keySeq = 0;
  /** The hot-path tuples (hot.ts) the current connection uses, agreed at hello; 0: objects only. */
  private hot = 0;
  /** The version offered in hello (0: none). */
  private readonly offerHot: number;

  constructor(private readonly opts: ConnectionOptions) {
    this.offerHot = (opts.hotFrames ?? hotFramesEnv() !== "0") ? HOT_FRAMES_VERSION : 0;
  }

  /** The hot-path tuple version (hot.ts) agreed with the server at hello; 0: objects only. */
  get hotVersion(): number {
    return this.hot;
  }

  /** Registers the handler for one event type (one per type). */
  on<N extends EventName>(name: N, handler: (body: EventMap[N]) => void): void {
    this.handlers.set(name, handler as (body: unknown) => void);
  }

  /** Called once if the connection is given up for good (auth failure, close()). */
  onClosed(listener: (err: SkiffError) => void): void {
    this.closeListeners.push(listener);
  }

  private readonly dropListeners = new Set<(err: SkiffError) => void>();

  /**
   * Called whenever the socket drops (the connection may come back). Streams whose state
   * lives on the server (a map's inputs) end with an error here. Returns an unsubscribe.
   */
  onDisconnect(listener: (err: SkiffError) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /** Keeps the process alive while something waits for events (a log stream). */
  hold(): () => void {
    this.holds++;
    this.updateKeepAlive();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.updateKeepAlive();
      if (this.holds === 0 && this.pending.size === 0) this.scheduleIdleClose();
    };
  }

  request<N extends RequestName>(
    name: N,
    params: RequestParams<N>,
    options: RequestOptions = {},
  ): Promise<RequestResult<N>> {
    if (this.state === "closed") return Promise.reject(this.closedBy ?? new ConnectionError("connection is closed"));
    const foreign = this.usedByAnotherRequest();
    if (foreign) return Promise.reject(foreign);
    const id = this.nextId++;
    const msg = { t: name, id, p: params } as Message;
    return new Promise<RequestResult<N>>((resolve, reject) => {
      this.pending.set(id, {
        msg,
        retryable: options.retryable ?? false,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      this.updateKeepAlive();
      this.enqueue(msg);
    });
  }

  /**
   * A new idempotency key for a call: the server's prefix for this connection and the next
   * number, which tells the server that no earlier call can have it (it skips looking the key
   * up in its store), or a random key before a connection is open. Make it just before the
   * request that carries it, so that keys go out in the order they were made. A request resent
   * on a later connection keeps its key: that server looks it up as before.
   */
  newCallKey(): string {
    return this.keyPrefix === undefined ? newId("ik") : `${this.keyPrefix}${++this.keySeq}`;
  }

  /** Sends an event (no reply). Dropped if the connection is down. */
  emit<N extends EventName>(name: N, body: EventMap[N]): void {
    if (this.state === "closed" || this.usedByAnotherRequest()) return;
    this.enqueue({ t: name, b: body } as Message);
  }

  /**
   * Runs `hook` each time a frame is about to be put together, before what was queued for it
   * is encoded: what the hook emits goes out in that frame, after what was emitted earlier in
   * the turn. For senders that collect a turn's items and shape them as they leave (the
   * runtime's outputs as columns); flushSoon asks for the frame.
   */
  beforeFlush(hook: () => void): void {
    this.flushHooks.push(hook);
  }

  /** Asks for this turn's frame (a beforeFlush hook has something to emit). */
  flushSoon(): void {
    if (this.state === "closed" || this.usedByAnotherRequest()) return;
    this.hooksHaveWork = true;
    if (this.state !== "open") {
      void this.ensureOpen().catch(() => {});
      return;
    }
    this.scheduleFlush();
  }

  /** Opens the connection now (otherwise the first request opens it). */
  async connect(): Promise<void> {
    if (this.state === "open") return;
    if (this.state === "closed") throw new ConnectionError("connection is closed");
    await this.ensureOpen();
  }

  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    try {
      this.socket?.close(1000, "client closed");
    } catch {
      // Under workerd, a socket of another request cannot be closed from this one.
    }
    this.failAll(new ConnectionError("connection closed by the client"), () => true);
  }

  private enqueue(msg: Message): void {
    this.outbox.push(msg);
    if (this.state !== "open") {
      void this.ensureOpen().catch(() => {});
      return;
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const g = globalThis as { setImmediate?: (fn: () => void) => void };
    (g.setImmediate ?? ((fn: () => void) => setTimeout(fn, 0)))(() => {
      // Hooks first, while a flush is still marked scheduled: what they emit joins this frame
      // rather than asking for another turn.
      this.hooksHaveWork = false;
      for (const hook of this.flushHooks) hook();
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.state !== "open" || !this.socket || this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    const sock = this.socket;
    let frames: Uint8Array[];
    try {
      frames = encodeFrames(batch, this.hot > 0);
    } catch (err) {
      // Nothing was sent: the requests of this batch fail with the reason, the rest go on.
      const ids = new Set(batch.map((m) => (m as { id?: number }).id));
      this.failAll(new ConnectionError(`cannot encode a message: ${(err as Error).message}`, { cause: err }), (p) =>
        ids.has((p.msg as { id?: number }).id),
      );
      return;
    }
    try {
      for (const frame of frames) sock.send(frame);
    } catch (err) {
      // The socket cannot take it (closing, or broken): as a dropped connection, so that no
      // request waits for an answer to a message that was never sent. Retryable ones go again.
      try {
        sock.close(1000);
      } catch {}
      if (this.socket === sock) this.onDrop(1006, `send failed: ${(err as Error).message}`);
    }
  }

  /**
   * Under workerd a socket belongs to the request that opened it (any use from another throws,
   * and its events reach only that request). A socket of an earlier request that nothing waits
   * on is let go, and this request opens its own; one that another request is still using is
   * an error here: one client cannot serve concurrent requests there.
   */
  private usedByAnotherRequest(): SkiffError | undefined {
    const sock = this.socket ?? this.openingSocket;
    if (!sock || sock.usable()) return undefined;
    if (this.pending.size > 0 || this.holds > 0) {
      return new NotSupportedError(
        "this Client is in use by another request of this Worker, and workerd lets no request use another's connection: make the client in the request handler (new Client({ … }) or Client.fromEnv(env), which makes one per call under workerd) instead of sharing one",
      );
    }
    // Left behind by a finished request: not ours to close (workerd throws); forget it.
    if (this.socket === sock) this.socket = undefined;
    this.openingSocket = undefined;
    if (this.state === "open") this.state = "idle";
    return undefined;
  }

  private ensureOpen(): Promise<void> {
    if (!this.opening) {
      this.opening = this.open().finally(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }

  /**
   * With closeWhenIdle, closes the socket once no request, stream or event waits on it. Checked
   * a turn later, from the socket's own callbacks: the code that got the last answer may send
   * the next request at once.
   */
  private scheduleIdleClose(): void {
    if (!(this.opts.closeWhenIdle ?? IS_WORKERD) || this.opts.keepAlive) return;
    const sock = this.socket;
    setTimeout(() => {
      if (!sock) return;
      if (this.socket !== sock) {
        // Let go by a later request before this ran (a let-go socket takes no more requests):
        // close it here, in the request it belongs to, where closing it is allowed.
        try {
          sock.close(1000, "idle");
        } catch {}
        return;
      }
      if (this.state !== "open") return;
      if (this.pending.size > 0 || this.holds > 0 || this.outbox.length > 0 || this.hooksHaveWork) return;
      this.socket = undefined;
      this.state = "idle";
      sock.close(1000, "idle");
    }, 0);
  }

  private async open(): Promise<void> {
    const timeout = this.opts.reconnectTimeoutMs ?? 60_000;
    let delay = 50;
    for (;;) {
      this.state = "connecting";
      try {
        await this.openOnce();
        this.state = "open";
        this.everOpened = true;
        this.disconnectedSince = 0;
        // Requests that were waiting when the last socket died go out again.
        const resend = [...this.pending.values()].filter((p) => p.retryable).map((p) => p.msg);
        const queued = this.outbox.filter((m) => !("id" in m) || !resend.includes(m));
        this.outbox = [...resend, ...queued];
        this.scheduleFlush();
        this.updateKeepAlive();
        return;
      } catch (err) {
        if ((this.state as State) === "closed") throw err;
        if (err instanceof NotSupportedError) {
          // Nothing to retry: this runtime cannot open a connection at all.
          this.giveUp(err);
          throw err;
        }
        // A certificate that does not verify will not verify on a retry either.
        if (err instanceof AuthError || err instanceof RemoteProtocolError || isTlsError(err)) {
          // Name the server, where it was configured and the token: the usual cause is a token
          // of another server (a profile mixing two), or one revoked.
          const e =
            err instanceof AuthError && !this.everOpened
              ? new AuthError(
                  `the Skiff server at ${this.opts.serverUrl}${this.from()} does not accept token ${this.opts.tokenId} (one of another server, or revoked?): ${err.message}`,
                )
              : (err as SkiffError);
          this.giveUp(e);
          throw e;
        }
        if (!this.disconnectedSince) this.disconnectedSince = Date.now();
        // A client's first connection fails at once: retrying a server that never answered
        // would only make a wrong URL or a stopped server look like a hang.
        const firstFailed = !this.everOpened && this.opts.role === "client";
        if (firstFailed || Date.now() - this.disconnectedSince > timeout) {
          const from = this.from();
          const e = new ConnectionError(
            firstFailed
              ? `cannot reach the Skiff server at ${this.opts.serverUrl}${from}: ${(err as Error).message}. Is it running? Start it with \`skiff server\`, or point SKIFF_SERVER_URL or SKIFF_PROFILE at one that is`
              : `cannot reach the Skiff server at ${this.opts.serverUrl}${from}: ${(err as Error).message} (gave up after trying to reconnect for ${formatSeconds(Date.now() - this.disconnectedSince)}; the client's reconnectTimeoutMs is ${timeout})`,
            { cause: err },
          );
          this.state = "idle";
          this.disconnectedSince = 0;
          this.failAll(e, () => true);
          this.outbox = [];
          throw e;
        }
        // No retryable work waiting: fail fast instead of retrying in the background.
        if (this.pending.size === 0 && this.outbox.length === 0 && !this.hooksHaveWork) {
          this.state = "idle";
          this.disconnectedSince = 0;
          throw err;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  private openOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let helloDone = false;
      const fail = (err: Error) => {
        settle();
        if (settled) return;
        settled = true;
        reject(err);
      };
      const helloId = this.nextId++;
      // An attempt nobody answers ends here rather than at the operating system's connect
      // timeout, minutes later: a host that does not accept the connection within
      // connectTimeoutMs (2 s on a first connection), or a server that accepted it but does not
      // answer the handshake and hello within ANSWER_MS (a busy server is slow, not absent).
      const connectMs = this.everOpened ? ANSWER_MS : (this.opts.connectTimeoutMs ?? 2000);
      const answerMs = this.opts.answerTimeoutMs ?? ANSWER_MS;
      // A timer can come due in the same turn of the event loop as the I/O that beats it (when
      // this process was busy for that long): timers run first, so look again after that I/O.
      let stage = 0; // 0: connecting, 1: connected and waiting for the answer, 2: settled
      const expire = (phase: number, err: () => ConnectionError) => () =>
        later(() => {
          if (stage !== phase) return;
          fail(err());
          sock?.close(1000);
        });
      let timer = setTimeout(
        expire(0, () => new ConnectionError(`no answer within ${connectMs} ms`)),
        connectMs,
      );
      const settle = () => {
        stage = 2;
        clearTimeout(timer);
      };
      const open =
        this.opts.framed && this.opts.serverUrl.startsWith("unix:")
          ? (h: SocketHandlers) =>
              Promise.resolve(
                needNode("the framed stream").openFramedSocket(this.opts.serverUrl.slice(5), MAX_FRAME_BYTES, h),
              )
          : (h: SocketHandlers) => openSocket(websocketUrl(this.opts.serverUrl), MAX_FRAME_BYTES, this.opts.caFile, h);
      void open({
        onConnect: () => {
          clearTimeout(timer);
          stage = 1;
          timer = setTimeout(
            expire(
              1,
              () => new ConnectionError(`the server accepted the connection but did not answer within ${answerMs} ms`),
            ),
            answerMs,
          );
        },
        onOpen: () => {
          const hello = {
            t: "hello",
            id: helloId,
            p: {
              v: PROTOCOL_VERSION,
              ...(this.offerHot > 0 ? { hot: this.offerHot } : {}),
              tokenId: this.opts.tokenId,
              tokenSecret: this.opts.tokenSecret,
              role: this.opts.role,
              sessionId: this.sessionId,
              ...(this.opts.containerId ? { containerId: this.opts.containerId } : {}),
            },
          } as Message;
          sock!.send(encodeFrame([hello]));
        },
        onMessage: (data) => {
          let msgs: Message[];
          try {
            // Tuples where this side offered them (a server sends them only once it agreed).
            msgs = decodeFrame(data, this.offerHot > 0);
          } catch (err) {
            sock!.close(1002, "protocol error");
            fail(new RemoteProtocolError((err as Error).message));
            return;
          }
          if (!helloDone) {
            const reply = msgs.shift() as ReplyMessage | undefined;
            if (reply?.t !== "reply" || reply.id !== helloId) {
              sock!.close(1002, "protocol error");
              fail(new RemoteProtocolError("server did not answer hello"));
              return;
            }
            if (!reply.ok) {
              sock!.close(1000);
              fail(errorFromWire(reply.error.code, reply.error.message));
              return;
            }
            helloDone = true;
            const prefix = (reply.r as { keyPrefix?: unknown } | undefined)?.keyPrefix;
            this.keyPrefix = typeof prefix === "string" && prefix.length <= 64 ? prefix : undefined;
            this.keySeq = 0;
            // Tuples for the hot path only where this server said it reads them (an older one: objects).
            this.hot = Math.min(this.offerHot, agreeHot((reply.r as { hot?: unknown } | undefined)?.hot));
            settle();
            this.openingSocket = undefined;
            this.socket = sock!;
            settled = true;
            resolve();
          }
          for (const m of msgs) this.dispatch(m);
        },
        onClose: (code, reason) => {
          if (!settled) {
            fail(
              code === CLOSE_UNAUTHENTICATED
                ? new AuthError(reason || "unauthenticated")
                : new ConnectionError(`connection closed (${code}${reason ? `: ${reason}` : ""})`),
            );
            return;
          }
          if (this.socket === sock) this.onDrop(code, reason);
        },
        onError: (err) => fail(connectError(err, this.opts.caFile)),
      }).then(
        (s) => {
          sock = s;
          if (!settled) this.openingSocket = s;
          // Given up on (no answer in time) before the socket object even arrived.
          if (settled) s.close(1000);
        },
        (err: Error) => fail(err instanceof NotSupportedError ? err : new ConnectionError(err.message, { cause: err })),
      );
      let sock: Socket | undefined;
    });
  }

  /** ` (from profile "x" in ~/.skiff.toml)`, when known. */
  private from(): string {
    return this.opts.configSource ? ` (from ${this.opts.configSource})` : "";
  }

  private onDrop(code: number, reason: string): void {
    this.socket = undefined;
    if (this.state === "closed") return;
    if (code === 1002 || code === CLOSE_UNAUTHENTICATED) {
      const err =
        code === 1002
          ? new RemoteProtocolError(`server closed the connection: ${reason || "protocol error"}`)
          : new AuthError(reason || "unauthenticated");
      this.giveUp(err);
      return;
    }
    this.state = "idle";
    const lost = new ConnectionError(`lost the connection to ${this.opts.serverUrl} (${code})`);
    for (const l of [...this.dropListeners]) l(lost);
    this.failAll(lost, (p) => !p.retryable);
    // Drop events queued for the dead socket; requests were kept in `pending`.
    this.outbox = this.outbox.filter((m) => "id" in m && this.pending.has((m as { id: number }).id));
    if (this.pending.size > 0 || this.opts.keepAlive) void this.ensureOpen().catch(() => {});
  }

  private giveUp(err: SkiffError): void {
    this.state = "closed";
    // Later requests fail with the reason (a revoked or expired token), not a bare "closed".
    this.closedBy = err;
    for (const l of [...this.dropListeners]) l(err);
    this.failAll(err, () => true);
    for (const l of this.closeListeners) l(err);
  }

  private failAll(err: Error, which: (p: Pending) => boolean): void {
    for (const [id, p] of this.pending) {
      if (!which(p)) continue;
      this.pending.delete(id);
      p.reject(err);
    }
    this.updateKeepAlive();
  }

  private dispatch(m: Message): void {
    if (m.t === "reply") {
      const r = m as ReplyMessage;
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.updateKeepAlive();
      if (r.ok) p.resolve(r.r);
      else p.reject(errorFromWire(r.error.code, r.error.message));
      if (this.pending.size === 0) this.scheduleIdleClose();
      return;
    }
    const handler = this.handlers.get(m.t);
    if (handler) handler((m as { b: unknown }).b);
  }

  private updateKeepAlive(): void {
    this.socket?.setKeepAlive(Boolean(this.opts.keepAlive) || this.pending.size > 0 || this.holds > 0);
  }
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME_MISMATCH|ERR_SSL/;

function isTlsError(err: unknown): boolean {
  return err instanceof ConnectionError && TLS_CODES.test(String((err.cause as { code?: string })?.code ?? ""));
}

/** A socket error; a certificate that does not verify says what to do about it. */
function connectError(err: Error, caFile: string | undefined): ConnectionError {
  const code = String((err as { code?: string }).code ?? "");
  if (!TLS_CODES.test(code)) return new ConnectionError(err.message, { cause: err });
  const fix = caFile
    ? `the CA in ${caFile} did not sign it`
    : "if a private CA signed it, set SKIFF_CA_FILE (or ca_file in the profile) to that CA's PEM file";
  return new ConnectionError(`cannot verify the server's TLS certificate (${err.message}): ${fix}`, { cause: err });
}

/**
 * SKIFF_HOT_FRAMES, where the runtime lets it be read: Deno without --allow-env throws on the
 * read (NotCapable), which means unset, not a client that cannot connect.
 */
function hotFramesEnv(): string | undefined {
  try {
    return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.SKIFF_HOT_FRAMES;
  } catch {
    return undefined;
  }
}
