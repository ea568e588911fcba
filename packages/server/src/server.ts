import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Duplex } from "node:stream";
import {
  CLOSE_UNAUTHENTICATED,
  type EventMap,
  FRAMED_UPGRADE_PATH,
  FRAMED_UPGRADE_TOKEN,
  MAX_FRAME_BYTES,
  type OutputWire,
  trace,
  unpackPayloads,
} from "@skiff/protocol";
import { WebSocketServer } from "ws";
import { ApiError } from "./api/api-error.js";
import { BlobTransfer } from "./api/blob-transfer.js";
import { ConnectionGate } from "./api/connection-gate.js";
import { type ConnectionLimits, defaultConnectionLimits } from "./api/connection-limits.js";
import { ExecRelay } from "./api/exec-relay.js";
import { FramedSocket, type PeerSocket } from "./api/framed-socket.js";
import { type HandlerDeps, handleRequest } from "./api/handlers.js";
import { imagesInUse } from "./api/images.js";
import { type Admit, CLOSE_POLICY, Peer, type PeerHooks } from "./api/peer.js";
import { AppService } from "./apps/app-service.js";
import { ungrantedBlob } from "./auth/blob-grants.js";
import { type Principal, TokenService } from "./auth/tokens.js";
import { claimControlSocket, controlListener } from "./control-socket.js";
import { Engine } from "./engine/engine.js";
import { LogHub } from "./engine/log-hub.js";
import { Schedules } from "./engine/schedules.js";
import { Environments } from "./environments/environments.js";
import { Gateway, isWebHost } from "./gateway/index.js";
import { type DrainReport, drain, Lifecycle } from "./lifecycle.js";
import { Metrics } from "./metrics/metrics.js";
import { type ObjectLimits, Objects } from "./objects/index.js";
import { volumeMounter } from "./objects/volume-mounts.js";
import type { WorkerProvider } from "./provider.js";
import type { BlobStore } from "./store/blobs/blob-store.js";
import { BlobSweeper } from "./store/blobs/blob-sweeper.js";
import { FsBlobStore } from "./store/blobs/fs-blob-store.js";
import type { Store } from "./store/store.js";
import { localHost, Placement } from "./workers/placement.js";
import { WorkerRegistry } from "./workers/registry.js";

export interface ServerOptions {
  /** @defaultValue "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @defaultValue 7420 */
  port?: number;
  dataDir: string;
  /**
   * The control plane's state: a Store, or a factory given the data directory and the log.
   * The server closes it on close(). (The CLI builds it from `--store`; see store/open.ts.)
   */
  store: Store | ((ctx: StoreContext) => Store | Promise<Store>);
  /** Where blobs live. @defaultValue files under <dataDir>/blobs */
  blobs?: BlobStore;
  /** Bytes of log text kept per app. @defaultValue 64 MiB */
  logMaxBytesPerApp?: number;
  /** Builds the local worker provider (this host) once the control socket's path is known. */
  provider: (controlSocket: string) => WorkerProvider;
  /** Remote workers (`skiff worker`) and placement (api.md §7a). */
  workers?: {
    /** Run containers on this host too. @defaultValue true */
    local?: boolean;
    /**
     * What this host holds at once across all functions (`--max-containers`, `--memory-mib`):
     * past it, containers wait for room and their inputs stay queued. A container without
     * memoryMiB counts as what it is measured to use. @defaultValue unlimited
     */
    localCapacity?: { maxContainers?: number; memoryMiB?: number };
    /** How long a container waits for a worker that fits. @defaultValue 600_000 */
    placementTimeoutMs?: number;
    /** A worker silent this long is lost. @defaultValue WORKER_LEASE_MS */
    leaseMs?: number;
  };
  /** How long `.spawn` results are kept. @defaultValue 7 days */
  resultRetentionMs?: number;
  /** Grace before a container that ignores a cancel/timeout signal is replaced. @defaultValue 2000 */
  killGraceMs?: number;
  /** How long a web request waits for its response head before a 303 to its result URL. @defaultValue 150_000 */
  webWaitMs?: number;
  /** Largest web request body (413 past it). @defaultValue 64 MiB */
  webMaxBodyBytes?: number;
  /** Pending spawned calls a function keeps in memory; more wait in the store. @defaultValue 10_000 */
  maxResidentSpawns?: number;
  /** A class instance idle this long (no calls, no containers) leaves memory. @defaultValue 300_000 */
  instanceIdleMs?: number;
  /** Serve the API, gateway and dashboard over HTTPS/WSS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Bounds on what clients may hold (bytes per connection, connections, timeouts). */
  connections?: Partial<ConnectionLimits>;
  /** Serve /metrics without a token. @defaultValue false */
  metricsPublic?: boolean;
  /** Limits and lifetimes of Dicts and Queues (defaults in objects/limits.ts). */
  objectLimits?: Partial<ObjectLimits>;
  log?: (msg: string) => void;
}

export const DEFAULT_PORT = 7420;

/** What a store factory is given. */
export interface StoreContext {
  dataDir: string;
  blobs: BlobStore;
  log: (msg: string) => void;
}

/**
 * The control plane: one HTTP server (API over WebSocket at /v1/ws, health at /healthz)
 * on loopback TCP, and the same API on a unix socket for containers, whose sandboxes
 * cannot reach the host's loopback.
 */
export class SkiffServer {
  /** `http://host:port` */
  readonly url: string;
  /** The admin token created at first start (undefined on later starts). */
  readonly createdAdminToken: { tokenId: string; tokenSecret: string } | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly http: Server,
    private readonly control: NetServer,
    private readonly controlHttp: Server,
    /** Every API connection: WebSockets and the framed stream's. */
    private readonly sockets: () => PeerSocket[],
    readonly controlSocket: string,
    private readonly store: Store,
    readonly engine: Engine,
    private readonly apps: AppService,
    private readonly provider: WorkerProvider,
    private readonly gateway: Gateway,
    private readonly objects: Objects,
    /** Blob housekeeping (tests run a sweep at once). */
    readonly blobSweeper: BlobSweeper,
    /** Worker agents connected to this control plane. */
    readonly workers: WorkerRegistry,
    createdAdminToken: { tokenId: string; tokenSecret: string } | undefined,
    private readonly log: (msg: string) => void,
    private readonly lifecycle: Lifecycle,
  ) {
    this.url = urlOf(http);
    this.createdAdminToken = createdAdminToken;
  }

  static async start(opts: ServerOptions): Promise<SkiffServer> {
    const log = opts.log ?? ((m: string) => console.error(`[skiff server] ${m}`));
    const limits: ConnectionLimits = { ...defaultConnectionLimits(), ...opts.connections };
    if (limits.headersTimeoutMs > limits.requestTimeoutMs)
      throw new Error(
        `the headers timeout (${limits.headersTimeoutMs} ms) must not exceed the request timeout (${limits.requestTimeoutMs} ms)`,
      );
    const peerLimits = {
      maxQueuedBytes: limits.maxQueuedBytes,
      stallMs: limits.stallMs,
      helloTimeoutMs: limits.helloTimeoutMs,
    };
    const gate = new ConnectionGate(limits, log);
    const dataDir = resolve(opts.dataDir);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const blobs = opts.blobs ?? new FsBlobStore(join(dataDir, "blobs"));
    const controlSocket = controlSocketPath(dataDir);
    // First, as it is cheap: a server already running on this data directory keeps it.
    await claimControlSocket(controlSocket, dataDir);

    // The control socket listens before anything can start a container: a sandbox binds the
    // socket file at start, so it must exist (containers of recovered calls start right away).
    let hooks: PeerHooks | undefined;
    const lifecycle = new Lifecycle();
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
    // Connections in the framed stream: containers on this host (control socket) and on
    // workers (their relays' upgrades on the public listener).
    const framedSockets = new Set<FramedSocket>();
    const acceptFramed = (socket: Socket, h: PeerHooks, admit: Admit | undefined, remote: string) => {
      socket.setTimeout(0); // an upgraded socket: the HTTP timeouts are over (as for ws)
      const framed = new FramedSocket(socket);
      framedSockets.add(framed);
      framed.once("close", () => framedSockets.delete(framed));
      new Peer(framed, h, peerLimits, admit, remote);
    };
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, gated: boolean) => {
      // A web endpoint's host owns every path: its WebSocket upgrades are not the API's.
      if (isWebHost(req.headers.host)) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const path = req.url?.split("?")[0];
      if ((path !== "/v1/ws" && path !== FRAMED_UPGRADE_PATH) || !hooks) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
        return;
      }
      const h = hooks;
      // Until its hello, an API connection stays unproven (aged out past the cap, closed at
      // the hello deadline); then it counts against the API connection cap.
      const raw = req.socket;
      const admit = gated ? () => gate.apiAuthenticated(raw) : undefined;
      if (path === FRAMED_UPGRADE_PATH) {
        // The framed stream through a worker's relay (its containers' connections).
        if (req.headers.upgrade?.toLowerCase() !== FRAMED_UPGRADE_TOKEN) {
          socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${FRAMED_UPGRADE_TOKEN}\r\n\r\n`,
        );
        if (head.byteLength > 0) socket.unshift(head);
        acceptFramed(socket as Socket, h, admit, raw.remoteAddress ?? "unix");
        return;
      }
      wss.handleUpgrade(
        req,
        socket,
        head,
        (ws) => new Peer(ws, h, peerLimits, admit, req.socket.remoteAddress ?? "unix"),
      );
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
        return;
      }
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { code: "not_found", message: `no route for ${req.method} ${req.url}` } }));
    };
    // The public listener also serves web endpoints, their result URLs and the JSON API.
    let gateway: Gateway | undefined;
    const listenerOptions = {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often the timeouts above are checked (Node's default, 30 s, would let a
      // slowloris socket live that much longer than headersTimeout).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    };
    // A response emits 'close' once: one listener function for all of them, no closure each.
    function admittedEnded(this: ServerResponse): void {
      gate.webRequestEnded(this.req.socket, true);
    }
    function refusedEnded(this: ServerResponse): void {
      gate.webRequestEnded(this.req.socket, false);
    }
    const onPublicRequest = (req: IncomingMessage, res: ServerResponse) => {
      const admitted = gate.webRequest(req.socket);
      res.on("close", admitted ? admittedEnded : refusedEnded);
      if (!admitted) {
        res
          .writeHead(503, { "content-type": "application/json", "retry-after": "1", connection: "close" })
          .end(JSON.stringify({ error: { code: "unavailable", message: "too many requests in flight; retry" } }));
        return;
      }
      if (!gateway?.handle(req, res)) onRequest(req, res);
    };
    const http: Server = opts.tls
      ? createHttpsServer(
          { ...listenerOptions, cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: limits.headersTimeoutMs },
          onPublicRequest,
        )
      : createServer(listenerOptions, onPublicRequest);
    // With TLS, a socket counts from its TCP connection (before the handshake).
    http.maxConnections = limits.maxSockets;
    // With TLS the gate sees sockets once their handshake is done (what requests arrive on);
    // one that never finishes it is closed at handshakeTimeout, and counts in maxConnections.
    http.on(opts.tls ? "secureConnection" : "connection", (socket: Socket) => gate.accept(socket));
    http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      quietSocketErrors(socket);
      // Web endpoints' WebSockets (to the app) count under a cap of their own while open.
      if (gateway?.takesUpgrade(req)) {
        const ws = gate.webSocket(req.socket);
        if (!ws.admitted) {
          socket.end(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
          );
          return;
        }
        socket.once("close", ws.closed);
        gateway.upgrade(req, socket, head);
        return;
      }
      const admitted = gate.webRequest(req.socket);
      gate.webRequestEnded(req.socket, admitted); // not a web upgrade: unproven again until its hello
      if (lifecycle.draining) {
        // A client reconnecting while this server stops: it retries until the next one is up.
        socket.end(
          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        );
        return;
      }
      const apiPath = req.url?.split("?")[0];
      if (!admitted && apiPath !== "/v1/ws" && apiPath !== FRAMED_UPGRADE_PATH) {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      onUpgrade(req, socket, head, true);
    });
    // Open sockets of the public listener (the connections metric); a Set, as each leaves on close.
    const openSockets = new Set<Socket>();
    http.on("connection", (sock: Socket) => {
      openSockets.add(sock);
      sock.once("close", () => openSockets.delete(sock));
    });
    // The control socket is the containers' (a unix socket in the data directory): no
    // per-address caps there, but the same hello deadline and per-connection bounds.
    const controlHttp = createServer(onRequest);
    controlHttp.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      quietSocketErrors(socket);
      onUpgrade(req, socket, head, false);
    });
    // The runtimes this server starts speak the framed stream there (no WebSocket upgrade).
    const control = controlListener(controlHttp, (socket) => {
      if (!hooks) return socket.destroy(); // as an upgrade before the server is ready: refused
      acceptFramed(socket, hooks, undefined, "unix");
    });
    await listen(control, { path: controlSocket });
    // Containers may run as another user (nobody): they connect through a bind mount of this
    // socket, so it must be writable by others. On the host it stays behind the data
    // directory (0700); what answers on it still demands a container's token.
    chmodSync(controlSocket, 0o666);
    trace("server: control socket listening");

    // The provider (it starts the warm pool's runtimes, ~100 ms each to boot) before the store
    // is opened: their boot and the store's opening overlap. Nothing reaches the store through
    // the control socket before `hooks` is set, further down.
    let local: WorkerProvider;
    try {
      local = opts.provider(controlSocket);
    } catch (err) {
      // Not left listening: the process would stay up on its control socket after the error.
      await closeControl(control, controlHttp);
      rmSync(controlSocket, { force: true });
      throw err;
    }
    trace("server: provider started");
    let store: Store;
    try {
      store = typeof opts.store === "function" ? await opts.store({ dataDir, blobs, log }) : opts.store;
      try {
        await store.claimServer?.();
      } catch (err) {
        await store.close().catch(() => {});
        throw err;
      }
    } catch (err) {
      await local.close().catch(() => {});
      await closeControl(control, controlHttp);
      rmSync(controlSocket, { force: true });
      throw err;
    }
    trace("server: store open");
    const tokens = new TokenService(store);
    let createdAdminToken: { tokenId: string; tokenSecret: string } | undefined;
    if ((await store.countAdminTokens()) === 0) {
      createdAdminToken = tokens.create("admin");
      await store.flush();
    }
    // One placement path for every container: this host (unless turned off) and the workers.
    const provider = new Placement({
      ...(opts.workers?.placementTimeoutMs !== undefined ? { timeoutMs: opts.workers.placementTimeoutMs } : {}),
      ...(local.images ? { images: local.images } : {}),
      onClose: () => local.close(),
    });
    // A container placed on this host gets its volume copies here (one on a worker gets them there).
    let materialize: ((containerId: string) => Promise<void>) | undefined;
    if (opts.workers?.local !== false) {
      const host = localHost(local, opts.workers?.localCapacity, async (spec) => {
        if (spec.mounts?.length) await materialize?.(spec.containerId);
      });
      provider.addHost(host);
      const c = host.capacity;
      if (opts.workers?.localCapacity)
        log(`this host runs at most ${c.maxContainers} containers and ${c.memoryMiB} MiB of container memory at once`);
    }
    const workers = new WorkerRegistry(provider, blobs, {
      log,
      ...(opts.workers?.leaseMs !== undefined ? { leaseMs: opts.workers.leaseMs } : {}),
    });
    const logs = new LogHub(store, opts.logMaxBytesPerApp);
    const engine = new Engine({
      store,
      blobs,
      provider,
      tokens,
      logs,
      controlSocket,
      resultRetentionMs: opts.resultRetentionMs ?? 7 * 24 * 3600 * 1000,
      ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
      ...(opts.maxResidentSpawns !== undefined ? { maxResidentSpawns: opts.maxResidentSpawns } : {}),
      ...(opts.instanceIdleMs !== undefined ? { instanceIdleMs: opts.instanceIdleMs } : {}),
      log,
    });
    const schedules = new Schedules(
      (functionId, args, idempotencyKey) =>
        engine.createCall({ functionId, kind: "spawn", args, idempotencyKey, parentInputId: undefined }),
      log,
    );
    const apps = new AppService(store, blobs, engine, provider, schedules);
    const metrics = new Metrics({
      engine,
      store,
      connections: () => ({ websocket: wss.clients.size + framedSockets.size, http: openSockets.size }),
    });
    const objects = new Objects(store.objects, opts.objectLimits ?? {}, (id) => blobs.size(id), dataDir, log);
    materialize = (id) => objects.volumes.materialize(id);
    workers.setVolumes(objects.volumes, objects.remoteVolumes);
    gateway = new Gateway({
      metrics,
      objects,
      ...(opts.metricsPublic ? { metricsPublic: true } : {}),
      engine,
      store,
      blobs,
      apps,
      tokens,
      logs,
      log,
      ...(opts.webWaitMs !== undefined ? { waitMs: opts.webWaitMs } : {}),
      ...(opts.webMaxBodyBytes !== undefined ? { maxBodyBytes: opts.webMaxBodyBytes } : {}),
      ...(opts.resultRetentionMs !== undefined ? { resultRetentionMs: opts.resultRetentionMs } : {}),
    });
    // Ephemeral objects end with the app (made in its containers) or the client session that made them.
    apps.onAppStopped((appId) => void objects.registry.appStopped(appId).catch((e) => log(`${e}`)));
    apps.onSessionGone((sessionId) => void objects.registry.sessionGone(sessionId).catch((e) => log(`${e}`)));
    const deps: HandlerDeps = {
      store,
      blobs,
      blobTransfer: new BlobTransfer(blobs),
      engine,
      apps,
      tokens,
      logs,
      gateway,
      objects,
      environments: new Environments(store),
      images: provider.images,
      execs: new ExecRelay(engine),
      workers,
      lifecycle,
    };
    provider.images?.setInUse(() => new Set(imagesInUse(engine).keys()));
    const sweeper = new BlobSweeper({ blobs, store, inUse: () => engine.blobsInUse(), log });
    hooks = peerHooks(deps, tokens, log);

    // Before any container starts: copies of a previous run are gone, and volumes are mounted.
    await objects.volumes.start();
    engine.setMounter(volumeMounter(objects.registry, objects.volumes));
    await apps.restore();
    await store.objects.queueResetLeases();

    await objects.registry.restore(
      async (appId) => ((await store.getApp(appId))?.state ?? "stopped") !== "stopped",
      (sessionId) => apps.sessionDropped(sessionId),
    );
    trace("server: services built");
    const recovered = await engine.recover();
    if (recovered > 0) log(`recovered ${recovered} pending call(s) from the store`);

    const host = opts.host ?? "127.0.0.1";
    await listen(http, { host, port: opts.port ?? DEFAULT_PORT });
    if (!opts.tls && !isLoopback(host))
      log(
        `warning: listening on ${host} without TLS: tokens and data cross the network in clear text; ` +
          "give --tls-cert and --tls-key (docs/security.md)",
      );
    gateway.setBaseUrl(urlOf(http));
    trace("server: listening");
    return new SkiffServer(
      http,
      control,
      controlHttp,
      () => [...wss.clients, ...framedSockets],
      controlSocket,
      store,
      engine,
      apps,
      provider,
      gateway,
      objects,
      sweeper,
      workers,
      createdAdminToken,
      log,
      lifecycle,
    );
  }

  /**
   * A graceful stop, before close(): takes no new work, lets running inputs finish within
   * `graceMs`, commits, and closes client connections with 1012 (they reconnect to the next
   * server and send again what it did not answer). See lifecycle.ts.
   */
  drain(graceMs: number): Promise<DrainReport> {
    return drain(
      {
        lifecycle: this.lifecycle,
        engine: this.engine,
        gateway: this.gateway,
        store: this.store,
        sockets: this.sockets,
        log: this.log,
      },
      graceMs,
    );
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const step = async (what: string, fn: () => unknown) => {
        try {
          await fn();
          trace(`server: closed ${what}`);
        } catch (err) {
          this.log(`closing ${what} failed: ${(err as Error).message}`);
        }
      };
      // Builds first: a build can run for minutes, and nothing it would finish is kept.
      await step("image builds", () => this.provider.images?.close());
      await step("gateway", () => this.gateway.close());
      await step("engine", () => this.engine.close());
      await step("blob sweeper", () => this.blobSweeper.close());
      await step("apps", () => this.apps.close());
      await step("objects", () => this.objects.close());
      await step("workers", () => this.workers.close());
      await step("provider", () => this.provider.close());
      for (const c of this.sockets()) c.terminate();
      await step("http", () => closeServer(this.http));
      await step("control socket", () => closeControl(this.control, this.controlHttp));
      await step("store", () => this.store.close());
      rmSync(this.controlSocket, { force: true });
    })();
    return this.closing;
  }
}

function peerHooks(deps: HandlerDeps, tokens: TokenService, log: (m: string) => void): PeerHooks {
  // Connections by token: a revoked token's are closed at once, an expiring one's at expiry.
  const byToken = new Map<string, Set<Peer>>();
  tokens.onRevoke((tokenId) => {
    for (const peer of byToken.get(tokenId) ?? []) peer.close(CLOSE_UNAUTHENTICATED, `token ${tokenId} was revoked`);
  });
  const track = (peer: Peer, principal: Principal) => {
    let set = byToken.get(principal.tokenId);
    if (!set) {
      set = new Set();
      byToken.set(principal.tokenId, set);
    }
    set.add(peer);
    const expiry = principal.expiresAt
      ? setTimeout(
          () => peer.close(CLOSE_UNAUTHENTICATED, `token ${principal.tokenId} expired`),
          Math.min(2 ** 31 - 1, principal.expiresAt - Date.now()),
        )
      : undefined;
    peer.cleanups.add(() => {
      clearTimeout(expiry);
      set.delete(peer);
      if (set.size === 0) byToken.delete(principal.tokenId);
    });
  };
  return {
    async hello(peer, p): Promise<Principal> {
      const { principal, refused } = await tokens.check(p.tokenId as string, p.tokenSecret as string);
      if (refused)
        throw new ApiError("unauthenticated", `${refused}: ask an admin for a new one (\`skiff token new\`)`);
      if (!principal)
        throw new ApiError(
          "unauthenticated",
          "invalid token: check SKIFF_TOKEN_ID / SKIFF_TOKEN_SECRET or run `skiff token new`",
        );
      if (principal.kind !== "container") track(peer, principal);
      if (principal.kind === "web") throw new ApiError("permission_denied", "a web endpoint token cannot use the API");
      if (p.role === "worker" || principal.kind === "worker") {
        if (principal.kind !== "worker")
          throw new ApiError(
            "permission_denied",
            "joining as a worker needs a worker token: create one with `skiff token new --worker --output FILE` on the control plane",
          );
        if (p.role !== "worker")
          throw new ApiError("permission_denied", "a worker token may only join as a worker (`skiff worker`)");
        peer.role = "worker";
        return principal;
      }
      if (p.role === "container") {
        if (principal.kind !== "container" || p.containerId !== principal.containerId) {
          throw new ApiError("unauthenticated", "container hello needs that container's token");
        }
        peer.role = "container";
        trace("server: container hello");
        peer.containerId = principal.containerId;
        return principal;
      }
      if (typeof p.sessionId === "string" && p.sessionId.length <= 64) {
        peer.sessionId = p.sessionId;
        deps.apps.sessionOpened(p.sessionId);
      }
      return principal;
    },
    afterHello(peer) {
      if (peer.role !== "container") return;
      deps.engine.containerHello(peer.containerId!, peer).catch((err: Error) => {
        log(`container ${peer.containerId} cannot start: ${err.message}`);
        peer.close(1011, err.message);
      });
    },
    request: (peer, msg) => handleRequest(peer, msg, deps),
    event(peer, msg) {
      const b = msg.b as Record<string, unknown>;
      if (peer.role === "client" && msg.t === "gen.ack") {
        const callId = b?.callId;
        const consumed = b?.consumed;
        if (typeof callId !== "string" || typeof consumed !== "number" || !(consumed > 0)) {
          return peer.close(1002, "gen.ack needs callId and a positive consumed");
        }
        if (peer.streams.has(callId)) deps.engine.streamAck(callId, consumed);
        return;
      }
      if (
        peer.role === "client" &&
        (msg.t === "exec.input" || msg.t === "exec.resize" || msg.t === "exec.ack" || msg.t === "exec.kill")
      ) {
        if (typeof b?.execId !== "string") return peer.close(1002, `${msg.t} needs an execId`);
        if (msg.t === "exec.input" && b.data !== undefined && !(b.data instanceof Uint8Array))
          return peer.close(1002, "exec.input.data must be bytes");
        deps.execs.fromClient(peer, msg.t, b);
        return;
      }
      if (peer.role === "worker") {
        deps.workers.event(peer, msg.t, b);
        return;
      }
      if (peer.role === "client" && msg.t === "queue.ack") {
        if (typeof b?.leaseId !== "number") return peer.close(1002, "queue.ack needs leaseId");
        deps.objects.queues.ack(peer, b.leaseId);
        return;
      }
      if (peer.role !== "container" || !peer.containerId) {
        peer.close(1002, `unexpected event ${msg.t}`);
        return;
      }
      const id = peer.containerId;
      if (msg.t === "outputs" || msg.t === "outputs.cols" || msg.t === "gen.items") {
        // Results name only blobs the container was given or uploaded (auth/blob-grants.ts).
        const blob = ungrantedBlob(peer.principal!.blobGrants!, b);
        if (blob !== undefined)
          return peer.close(CLOSE_POLICY, `${msg.t} names blob ${blob.slice(0, 70)}, not this container's`);
      }
      switch (msg.t) {
        case "container.ready":
          deps.engine.containerReady(id);
          return;
        case "container.init_failed":
          deps.engine.containerInitFailed(id, (b as EventMap["container.init_failed"]).error);
          return;
        case "outputs":
          if (!Array.isArray(b?.items)) return peer.close(1002, "outputs.items must be an array");
          deps.engine.containerOutputs(id, b.items as OutputWire[]);
          return;
        case "outputs.cols": {
          const o = b as unknown as EventMap["outputs.cols"];
          const n = Array.isArray(o?.seqs) ? o.seqs.length : -1;
          const data = n < 0 ? undefined : unpackPayloads(o.data, n);
          if (!data || !Array.isArray(o.durationsMs) || o.durationsMs.length !== n)
            return peer.close(1002, "outputs.cols needs seqs, data and durationsMs of one length");
          deps.engine.containerOutputColumns(id, o.seqs, data, o.durationsMs);
          return;
        }
        case "inputs.returned": {
          const items = (b as EventMap["inputs.returned"])?.items;
          if (
            !Array.isArray(items) ||
            !items.every((i) => typeof i?.inputId === "string" && typeof i.attempt === "number")
          )
            return peer.close(1002, "inputs.returned.items must be an array of {inputId, attempt}");
          deps.engine.containerReturned(id, items);
          return;
        }
        case "gen.items": {
          const g = b as EventMap["gen.items"];
          if (typeof g?.inputId !== "string" || typeof g.attempt !== "number" || !Array.isArray(g.items)) {
            return peer.close(1002, "gen.items needs inputId, attempt and items");
          }
          deps.engine.containerGenItems(id, g.inputId, g.attempt, g.items);
          return;
        }
        case "web.answer": {
          // Bytes only (an inline payload): it can name no blob, so no grant check is needed.
          const w = b as EventMap["web.answer"];
          if (typeof w?.seq !== "number" || !(w.item instanceof Uint8Array) || typeof w.durationMs !== "number")
            return peer.close(1002, "web.answer needs seq, item (bytes) and durationMs");
          deps.engine.containerWebAnswer(id, w.seq, w.item, w.durationMs);
          return;
        }
        case "web.body.pull": {
          const m = b as EventMap["web.body.pull"];
          if (typeof m?.callId !== "string" || typeof m.inputId !== "string" || !(m.bytes > 0))
            return peer.close(1002, "web.body.pull needs callId, inputId and a positive bytes");
          deps.gateway.bodyPull(id, m, (body) => peer.send("web.body", body));
          return;
        }
        case "exec.output":
        case "exec.exit":
        case "exec.ack":
          deps.execs.fromContainer(id, msg.t, b);
          return;
        case "logs":
          if (!Array.isArray(b?.items)) return peer.close(1002, "logs.items must be an array");
          deps.engine.containerLogs(id, b.items as EventMap["logs"]["items"]);
          return;
        default:
          peer.close(1002, `unknown event ${msg.t}`);
      }
    },
    closed(peer) {
      if (peer.role === "worker") deps.workers.closed(peer);
      if (peer.role === "container" && peer.containerId) deps.engine.containerDisconnected(peer.containerId);
      if (peer.sessionId) deps.apps.sessionClosed(peer.sessionId);
    },
    log,
  };
}

/**
 * An upgrade's socket is no longer watched by the HTTP server: an error on it (the client reset
 * the connection while a 404 or 503 was being written: EPIPE) would be an unhandled 'error'
 * event and stop the whole server. Whoever takes the socket on (ws, the gateway) closes it.
 */
function quietSocketErrors(socket: Duplex): void {
  socket.on("error", () => socket.destroy());
}

function urlOf(server: Server): string {
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const scheme = "setSecureContext" in server ? "https" : "http";
  return `${scheme}://${host}:${addr.port}`;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/** Unix socket paths are limited to ~107 bytes; long data dirs use a hashed path in /tmp. */
function controlSocketPath(dataDir: string): string {
  const p = join(dataDir, "control.sock");
  if (Buffer.byteLength(p) < 100) return p;
  return join(tmpdir(), `skiff-${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}.sock`);
}

function listen(server: Server | NetServer, where: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once("error", reject);
    // A deep accept queue (the kernel caps it at net.core.somaxconn): under a flood of
    // connections the default 511 fills while the loop is busy, and the kernel then drops a
    // real client's SYN, which it retries only after 1 s, then 3 s — past the SDK's deadline.
    server.listen({ ...where, backlog: 4096 }, () => {
      server.off("error", reject);
      resolveListen();
    });
  });
}

/** The control socket's listener and the HTTP server behind it, with their connections. */
function closeControl(control: NetServer, http: Server): Promise<void> {
  return new Promise((r) => {
    control.close(() => r());
    http.closeAllConnections();
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}
