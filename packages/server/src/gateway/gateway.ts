import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type EventMap, newId, WEB_INLINE_BODY_BYTES, type WebBodyWire, type WebRequestWire } from "@skiff/protocol";
import { knownError } from "../api/api-error.js";
import type { AppService } from "../apps/app-service.js";
import type { TokenService } from "../auth/tokens.js";
import { DashboardHttp } from "../dashboard/dashboard-http.js";
import { Sessions } from "../dashboard/sessions.js";
import type { Engine } from "../engine/engine.js";
import type { LogHub } from "../engine/log-hub.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Objects } from "../objects/index.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import type { Store } from "../store/store.js";
import { ApiAuth } from "./api-auth.js";
import { apiRoutes, serveApi } from "./api-routes.js";
import { requireToken } from "./auth.js";
import { CORS_HEADERS, isPreflight, preflight } from "./cors.js";
import { type Endpoint, EndpointIndex } from "./endpoints.js";
import { DashboardEvents } from "./events.js";
import { HttpError, sendError, sendJson } from "./http-error.js";
import { JsonApi, statusOf } from "./json-api.js";
import { ObjectsApi } from "./objects-api.js";
import { ReadApi } from "./read-api.js";
import { encodeWebArgs } from "./request-args.js";
import { BodyPump, declaredLength, parseJson, readBody } from "./request-body.js";
import { busy, ResultUrls } from "./result-urls.js";
import { route, type Target, webPathUrl, webUrl } from "./routes.js";
import { WebCall, type WebCallHost } from "./web-call.js";
import { responseOn, WebTunnel } from "./web-tunnel.js";

export interface GatewayOptions {
  engine: Engine;
  store: Store;
  blobs: BlobStore;
  apps: AppService;
  tokens: TokenService;
  logs: LogHub;
  log: (msg: string) => void;
  /** How long a request waits for the response head before a 303 to its result URL. @defaultValue 150_000 */
  waitMs?: number;
  /** Largest request body. @defaultValue 64 MiB */
  maxBodyBytes?: number;
  /** How long a finished result URL's response is kept in the store. @defaultValue 7 days */
  resultRetentionMs?: number;
  /** Prometheus metrics at /metrics. */
  metrics?: Metrics;
  /** Dicts, Queues and Volumes, for the dashboard's read-only view of them. */
  objects?: Objects;
  /** /metrics without a token (for a scraper on a trusted network). @defaultValue false */
  metricsPublic?: boolean;
}

const NO_BODY: WebBodyWire = { kind: "none" };
/** The `live` entry of every request whose body came whole (shared: nothing in it changes). */
const NO_PUMP: { pump: undefined } = Object.freeze({ pump: undefined });
const AUTH_HEADERS = new Set(["authorization", "skiff-token-id", "skiff-token-secret"]);

/**
 * The web gateway, on the control plane's HTTP listener: web endpoints by host
 * (`<app>--<label>.localhost`) and by path (`/web/<app>/<label>`), their result URLs
 * (`/web/_result/<call id>`), and the JSON HTTP API (`/v1/…`). A web request is a generator
 * call of the endpoint's function (see WebCall and docs/web.md).
 */
export class Gateway {
  readonly waitMs: number;
  readonly maxBodyBytes: number;
  private readonly index: EndpointIndex;
  private readonly routes: ReturnType<typeof apiRoutes>;
  private readonly auth: ApiAuth;
  private readonly events: DashboardEvents;
  private readonly dashboard: DashboardHttp;
  /** Web calls running, by call id: request-body pulls find their request here. */
  private readonly live = new Map<string, { pump: BodyPump | undefined; socket?: Duplex }>();
  /** Requests whose client waits for the response head, by call: a graceful stop answers them 503. */
  private readonly waiting = new Map<string, { call: WebCall; res: ServerResponse }>();
  /** Set while the server stops gracefully: new endpoint requests get 503 with Retry-After. */
  private draining = false;
  /** Result URLs of calls answered 303 or 202. */
  private readonly results: ResultUrls;
  private base = new URL("http://127.0.0.1:7420");
  private readonly sweeper: NodeJS.Timeout;
  /** What every WebCall needs from the gateway (one object for all of them). */
  private readonly callHost: WebCallHost;

  constructor(private readonly o: GatewayOptions) {
    this.waitMs = o.waitMs ?? 150_000;
    this.maxBodyBytes = o.maxBodyBytes ?? 64 * 1024 * 1024;
    this.index = new EndpointIndex({
      functions: () => o.engine.liveFunctions(),
      app: (id) => o.apps.liveApp(id),
    });
    const json = new JsonApi({
      engine: o.engine,
      apps: o.apps,
      store: o.store,
      blobs: o.blobs,
      tokens: o.tokens,
      waitMs: this.waitMs,
    });
    const urlOf = (id: string) => this.urlsOfFunction(id)?.url;
    const read = new ReadApi({ engine: o.engine, apps: o.apps, store: o.store, blobs: o.blobs, urlOf });
    this.events = new DashboardEvents(o.engine, o.logs, urlOf);
    this.routes = apiRoutes(json, read, this.events, o.objects ? new ObjectsApi(o.objects) : undefined);
    this.auth = new ApiAuth(o.tokens, o.store, new Sessions());
    this.dashboard = new DashboardHttp(o.tokens, this.auth);
    this.results = new ResultUrls({
      store: o.store,
      tokens: o.tokens,
      waitMs: this.waitMs,
      resultRetentionMs: o.resultRetentionMs ?? 7 * 24 * 3600 * 1000,
      resultUrl: (id) => this.resultUrl(id),
      cancel: (id) => this.cancel(id),
    });
    this.sweeper = setInterval(() => this.results.sweep(), 30_000);
    this.sweeper.unref();
    this.callHost = {
      ack: (id, n) => o.engine.streamAck(id, n),
      cancel: (id) => this.cancel(id),
      logFailure: (c, why) => this.logFailure(c, why),
      uncap: (c) => this.waiting.delete(c.callId),
    };
  }

  /** The server's own URL, once it listens: web URLs are built from it. */
  setBaseUrl(url: string): void {
    this.base = new URL(url);
  }

  /** An app was published or stopped: routes may have changed. */
  invalidate(): void {
    this.index.invalidate();
  }

  /** The URL of a web endpoint function (undefined for other functions). */
  urlOf(appName: string, label: string | undefined, mode: "ephemeral" | "deployed"): string | undefined {
    return label ? webUrl(this.base, appName, label, mode) : undefined;
  }

  /** Both URL forms of a live web endpoint function. */
  urlsOfFunction(functionId: string): { url: string; pathUrl: string } | undefined {
    const fn = this.o.engine.functionView(functionId);
    const app = fn && this.o.apps.liveApp(fn.appId);
    if (!fn?.spec.web || !app) return undefined;
    return {
      url: webUrl(this.base, fn.appName, fn.spec.web.label, app.mode),
      pathUrl: webPathUrl(this.base, fn.appName, fn.spec.web.label, app.mode),
    };
  }

  /** Takes the request if it is the gateway's; false leaves it to the server. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const t = route(req.headers.host, req.url ?? "/");
    if (!t) return false;
    try {
      // A closure only for a request that went async (most endpoint requests do not).
      this.serve(t, req, res)?.catch((err: unknown) => this.fail(req, res, err));
    } catch (err) {
      this.fail(req, res, err);
    }
    return true;
  }

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (err instanceof HttpError) {
      sendError(res, err);
      return;
    }
    const known = knownError(err);
    if (known) {
      sendError(res, new HttpError(statusOf(known.code), known.code, known.message));
      return;
    }
    const id = newId("rq");
    this.o.log(`gateway: ${req.method} ${req.url} failed (request ${id}): ${(err as Error)?.stack ?? err}`);
    sendError(res, new HttpError(500, "internal", `internal error (request ${id})`), {}, id);
  }

  /** Undefined when the request was taken in this turn (an endpoint request needing no await). */
  private serve(t: Target, req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    if (t.kind === "api") return serveApi(this.routes, this.auth, req, res, t.path);
    if (t.kind === "dashboard") return this.dashboard.serve(req, res, t.path);
    if (t.kind === "metrics") return this.serveMetrics(req, res);
    if (t.kind === "result") return this.results.serve(req, res, t.callId);
    return this.serveEndpoint(req, res, t);
  }

  private async serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = this.o.metrics;
    if (!m) throw new HttpError(404, "not_found", "metrics are off on this server");
    if (!this.o.metricsPublic) await this.auth.require(req, "read");
    const text = await m.text();
    res.writeHead(200, { "content-type": m.contentType, "cache-control": "no-store" }).end(text);
  }

  /**
   * Takes an upgrade request (a WebSocket) if it is for a web endpoint; false leaves it to the
   * server. The endpoint's handler gets it as Node's 'upgrade' event (docs/web.md).
   */
  /** Whether upgrade() would take this request (it is for a web endpoint's host). */
  takesUpgrade(req: IncomingMessage): boolean {
    return route(req.headers.host, req.url ?? "/")?.kind === "endpoint";
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const t = route(req.headers.host, req.url ?? "/");
    if (t?.kind !== "endpoint") return false;
    socket.on("error", () => {}); // a reset client: the tunnel's 'close' cleans up
    const res = responseOn(req, socket);
    const fail = (err: unknown) => {
      const known = knownError(err);
      if (err instanceof HttpError) sendError(res, err);
      else if (known) sendError(res, new HttpError(statusOf(known.code), known.code, known.message));
      else {
        this.o.log(`gateway: upgrade ${req.url} failed: ${(err as Error)?.stack ?? err}`);
        sendError(res, new HttpError(500, "internal", "internal error"));
      }
    };
    try {
      let ep: Endpoint | undefined;
      for (const c of t.candidates) ep ??= this.index.find(c.app, c.label, t.dev);
      if (!ep) throw new HttpError(404, "not_found", `no web endpoint "${t.host}"`);
      if (ep.web.kind === "endpoint")
        throw new HttpError(
          400,
          "invalid_argument",
          "a webEndpoint does not take upgrades (WebSockets): serve a fetchApp or nodeHttpApp",
        );
      const found = ep;
      // The token is checked before anything of the request reaches the function (the check
      // reads the store: the upgrade goes on once it resolves).
      if (found.web.requiresAuth)
        requireToken(req, this.o.tokens, ["web"], "this endpoint").then(() => {
          try {
            this.openTunnel(found, req, socket, head, t.rest);
          } catch (err) {
            fail(err);
          }
        }, fail);
      else this.openTunnel(found, req, socket, head, t.rest);
    } catch (err) {
      fail(err);
    }
    return true;
  }

  /** Streams an accepted upgrade to the endpoint's handler. */
  private openTunnel(ep: Endpoint, req: IncomingMessage, socket: Duplex, head: Buffer, rest: string): void {
    if (socket.destroyed) return; // gone while its token was checked
    const wire = this.wire(req, newId("rq"), rest, ep.web.requiresAuth, { kind: "stream" });
    wire.upgrade = true;
    if (head.byteLength > 0) socket.unshift(head);
    // What the client sends after the head streams to the handler with credit, unlimited in
    // total (a WebSocket lives as long as the function's timeoutMs).
    const pump = new BodyPump(socket, Number.POSITIVE_INFINITY, () => {});
    let tunnel: WebTunnel | undefined;
    const { callId } = this.o.engine.startStream(
      { functionId: ep.fn.id, args: encodeWebArgs(wire), parentInputId: undefined },
      (items, end) => {
        tunnel!.onItems(items, end);
        if (end) this.live.delete(callId);
      },
    );
    tunnel = new WebTunnel(callId, wire.requestId, ep, req, socket, this.callHost);
    this.live.set(callId, { pump, socket });
  }

  /** A container asks for more of a request body. */
  bodyPull(containerId: string, m: EventMap["web.body.pull"], send: (b: EventMap["web.body"]) => void): void {
    const entry = this.live.get(m.callId);
    // Only the container running that input may read the body.
    if (!entry?.pump || this.o.engine.streamContainer(m.callId, m.inputId) !== containerId) return;
    entry.pump.pull(m.inputId, m.bytes, send);
  }

  /**
   * An endpoint request. One that needs no await (no token to check, no body to read: a GET to
   * an open endpoint) starts its call in this turn, so a burst read together leaves together
   * in the container's next frame; the others go on in serveAwaiting.
   */
  private serveEndpoint(
    req: IncomingMessage,
    res: ServerResponse,
    t: Extract<Target, { kind: "endpoint" }>,
  ): Promise<void> | undefined {
    let ep: Endpoint | undefined;
    for (const c of t.candidates) ep ??= this.index.find(c.app, c.label, t.dev);
    if (!ep)
      throw new HttpError(
        404,
        "not_found",
        `no web endpoint "${t.host}": no running app has a web endpoint with that app name and label${t.dev ? " (the -dev suffix is for ephemeral apps: skiff serve / skiff run)" : " (ephemeral apps end the label in -dev)"}`,
      );
    const web = ep.web;
    const cors = web.kind === "endpoint" ? CORS_HEADERS : {};
    const method = req.method ?? "GET";
    try {
      if (web.kind === "endpoint") {
        if (isPreflight(req)) {
          preflight(req, res, web.method!);
          return;
        }
        // A GET endpoint also takes HEAD (no list made per request to say so).
        if (method !== web.method && !(method === "HEAD" && web.method === "GET"))
          throw new HttpError(405, "method_not_allowed", `this endpoint takes ${web.method}, not ${method}`, {
            allow: `${web.method === "GET" ? "GET, HEAD" : web.method}, OPTIONS`,
          });
      }
      if (this.draining) throw restarting();
      const body = web.requiresAuth ? undefined : this.bodyNow(req, ep, method);
      if (!body) return this.serveAwaiting(req, res, t, ep, method, cors);
      this.start(req, res, ep, this.wire(req, newId("rq"), t.rest, false, body));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      sendError(res, err, cors);
    }
  }

  /** The rest of serveEndpoint for a request whose token or body must be awaited. */
  private async serveAwaiting(
    req: IncomingMessage,
    res: ServerResponse,
    t: Extract<Target, { kind: "endpoint" }>,
    ep: Endpoint,
    method: string,
    cors: Readonly<Record<string, string>>,
  ): Promise<void> {
    try {
      if (ep.web.requiresAuth) await requireToken(req, this.o.tokens, ["web"], "this endpoint");
      const requestId = newId("rq");
      const body = await this.body(req, ep, method);
      const wire = this.wire(req, requestId, t.rest, ep.web.requiresAuth, body);
      return this.start(req, res, ep, wire);
    } catch (err) {
      if (err instanceof HttpError) return sendError(res, err, cors);
      throw err;
    }
  }

  /**
   * The request as the handler will see it: every header as the client sent it (names, order,
   * repeats, Transfer-Encoding and Connection included: body parsers and WebSocket servers
   * look at them), less the endpoint token of an endpoint that demands one.
   */
  private wire(
    req: IncomingMessage,
    requestId: string,
    url: string,
    requiresAuth: boolean,
    body: WebBodyWire,
  ): WebRequestWire {
    const headers: [string, string][] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (requiresAuth && AUTH_HEADERS.has(raw[i]!.toLowerCase())) continue;
      headers.push([raw[i]!, raw[i + 1]!]);
    }
    const wire: WebRequestWire = { requestId, method: req.method ?? "GET", url, headers, body };
    if (req.httpVersion !== "1.1") wire.httpVersion = req.httpVersion;
    if (req.socket.remoteAddress) wire.remoteAddress = req.socket.remoteAddress;
    if (req.socket.remotePort) wire.remotePort = req.socket.remotePort;
    return wire;
  }

  /** The request body when it needs no reading (none, or streamed), else undefined. */
  private bodyNow(req: IncomingMessage, ep: Endpoint, method: string): WebBodyWire | undefined {
    // A GET or HEAD has no body unless the client framed one (Node gives the handler either).
    const framed = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    if ((method === "GET" || method === "HEAD") && (!framed || ep.web.kind === "endpoint")) return NO_BODY;
    return undefined;
  }

  /** The request body: none, inline bytes, parsed JSON (webEndpoint), or streamed. */
  private async body(req: IncomingMessage, ep: Endpoint, method: string): Promise<WebBodyWire> {
    // A GET or HEAD has no body unless the client framed one (Node gives the handler either).
    const framed = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    if ((method === "GET" || method === "HEAD") && (!framed || ep.web.kind === "endpoint")) return NO_BODY;
    const limit = this.maxBodyBytes;
    const length = declaredLength(req, limit);
    if (ep.web.kind === "endpoint") {
      // The whole JSON body travels with the request, within one payload.
      const jsonLimit = Math.min(limit, 16 * 1024 * 1024);
      if (length !== undefined && length > jsonLimit)
        throw new HttpError(413, "payload_too_large", `the JSON body is over the ${jsonLimit}-byte limit`);
      return { kind: "json", value: parseJson(await readBody(req, jsonLimit)) };
    }
    if (length === 0) return { kind: "none" };
    if (length !== undefined && length <= WEB_INLINE_BODY_BYTES)
      return { kind: "bytes", data: await readBody(req, WEB_INLINE_BODY_BYTES) };
    // Larger or of unknown length: it streams to the handler as the handler reads.
    return { kind: "stream" };
  }

  private start(req: IncomingMessage, res: ServerResponse, ep: Endpoint, wire: WebRequestWire): void {
    const extra =
      ep.web.kind === "endpoint"
        ? { "skiff-request-id": wire.requestId, ...CORS_HEADERS }
        : { "skiff-request-id": wire.requestId };
    let call: WebCall | undefined;
    let pump: BodyPump | undefined;
    if (wire.body.kind === "stream") {
      pump = new BodyPump(req, this.maxBodyBytes, (err) => {
        if (call && !call.head && call.attached) {
          call.detach();
          sendError(res, err, extra, wire.requestId);
        }
        if (call) this.cancel(call.callId);
      });
    }
    // Strings, byte arrays and parsed JSON only: always a valid payload, so no validation pass.
    const args = encodeWebArgs(wire);
    const { callId } = this.o.engine.startStream(
      // A web call has no idempotency key: a retried HTTP request is a new request.
      { functionId: ep.fn.id, args, parentInputId: undefined },
      (items, end) => {
        call!.onItems(items, end);
        if (end) {
          this.live.delete(callId);
          this.waiting.delete(callId);
          this.results.ended(call!, this.draining);
        }
      },
    );
    call = new WebCall(callId, wire.requestId, ep, extra, this.callHost);
    this.live.set(callId, pump ? { pump } : NO_PUMP);
    if (!ep.web.waitForResponse) {
      const resultUrl = this.resultUrl(callId);
      if (!this.results.park(call)) sendError(res, busy(), extra, wire.requestId);
      else sendJson(res, 202, { call_id: callId, result_url: resultUrl }, { ...extra, location: resultUrl });
      return;
    }
    this.results.attachWithCap(call, res);
    // Left when the cap is lifted (callHost.uncap): answered, 303, or the client gone.
    if (call.capped) this.waiting.set(callId, { call, res });
  }

  /** A graceful stop begins: endpoint requests from now on get 503 with Retry-After. */
  drain(): void {
    this.draining = true;
  }

  /**
   * The graceful stop's grace is over: clients still waiting for a response head get 503 with
   * Retry-After (their calls end with the server); a response already under way is cut off.
   */
  answerWaiting(): number {
    let n = 0;
    for (const [callId, { call, res }] of [...this.waiting]) {
      this.waiting.delete(callId);
      if (call.answered || !call.attached) continue;
      call.detach();
      sendError(res, restarting(), call.extra, call.requestId);
      n++;
    }
    return n;
  }

  private resultUrl(callId: string): string {
    return `${this.base.origin}/web/_result/${callId}`;
  }

  private cancel(callId: string): void {
    // A cancelled call's stream gets no end: forget it here.
    this.live.delete(callId);
    this.o.engine.cancelCall(callId, false).catch(() => {}); // already over
  }

  private logFailure(call: WebCall, why: string): void {
    const fn = call.endpoint.fn;
    const text = `web request ${call.requestId} (call ${call.callId}) failed: ${why}\n`;
    this.o.log(`${fn.appName}.${fn.name}: ${text.trimEnd()}`);
    this.o.logs.append([{ ts: Date.now(), appId: fn.appId, functionName: fn.name, stream: "system", text }]);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.events.close();
    for (const [callId, { socket }] of [...this.live]) {
      // An upgraded socket is no longer the listener's to close: its tunnel ends here.
      socket?.destroy();
      this.cancel(callId);
    }
  }
}

/** The answer while the server restarts: try again shortly. */
function restarting(): HttpError {
  return new HttpError(503, "unavailable", "the server is restarting: send the request again in a few seconds", {
    "retry-after": "5",
  });
}
