import { type EventMap, OrderedMap, type RequestName, type RequestParams, type RequestResult } from "@skiff/protocol";
import { type ClientConfig, checkServerUrl, findConfig } from "./config.js";
import { ConnectionError, InvalidError } from "./errors.js";
import { IS_WORKERD, nodeCapabilities } from "./platform.js";
import { Connection, type RequestOptions } from "./transport/connection.js";

export interface ClientParams extends ClientConfig {
  /** Keep the process alive while the connection is idle. @defaultValue false */
  keepAlive?: boolean;
  /** Where this configuration came from (`profile "x" in ~/.skiff.toml`), named in errors. */
  configSource?: string;
  /** How long the first connection may go unanswered (see ConnectionOptions). @defaultValue 2000 */
  connectTimeoutMs?: number;
  /** How long a server that accepted the connection may take to answer. @defaultValue 10_000 */
  answerTimeoutMs?: number;
  /**
   * How long to keep trying to get a dropped connection back (a server restart) before calls,
   * maps and streams waiting on it fail. @defaultValue 60_000
   */
  reconnectTimeoutMs?: number;
  /**
   * Internal (the runtime): on a `unix:` URL, speak the framed stream of the control socket of
   * the server that started this container instead of WebSocket (ConnectionOptions.framed).
   */
  framed?: boolean;
}

/**
 * The one way every handle reaches the control plane. Pass one explicitly with
 * `{ client }`, or let handles use `Client.fromEnv()`.
 */
/** How a running map is doing: inputs finished (and of them failed), and the total once known. */
export interface MapProgressEvent {
  callId: string;
  /** "app.function" */
  what: string;
  done: number;
  failed: number;
  /** Known once the input iterator is exhausted. */
  total: number | undefined;
  /** True for the last event of the map (finished, failed or left early). */
  ended: boolean;
}

export type MapProgressListener = (e: MapProgressEvent) => void;

export class Client {
  readonly serverUrl: string;
  readonly environment: string;
  private readonly connection: Connection;
  private readonly mapSinks = new Map<string, (ev: EventMap["map.outputs"]) => void>();
  private readonly genSinks = new Map<string, (ev: EventMap["gen.stream"]) => void>();
  /** Generator items that came before their iterator: for the 256 calls seen last (ordered-map.ts). */
  private readonly earlyGen = new OrderedMap<string, EventMap["gen.stream"][]>(256);
  /** Internal: told how each running map is doing (the CLI draws progress lines from it). */
  _mapProgress: MapProgressListener | undefined;
  /** Internal: told when a map is taken back after a dropped connection (tests, chaos runs). */
  _mapResumed: ((e: { callId: string; resent: number }) => void) | undefined;

  constructor(params: ClientParams) {
    checkParams(params);
    this.serverUrl = params.serverUrl;
    this.environment = params.environment;
    this.connection = new Connection({
      serverUrl: params.serverUrl,
      tokenId: params.tokenId,
      tokenSecret: params.tokenSecret,
      role: "client",
      keepAlive: params.keepAlive ?? false,
      ...(params.caFile ? { caFile: params.caFile } : {}),
      ...(params.configSource ? { configSource: params.configSource } : {}),
      ...(params.connectTimeoutMs !== undefined ? { connectTimeoutMs: params.connectTimeoutMs } : {}),
      ...(params.answerTimeoutMs !== undefined ? { answerTimeoutMs: params.answerTimeoutMs } : {}),
      ...(params.reconnectTimeoutMs !== undefined ? { reconnectTimeoutMs: params.reconnectTimeoutMs } : {}),
      ...(params.framed ? { framed: true } : {}),
    });
    this.connection.on("map.outputs", (ev) => this.mapSinks.get(ev.callId)?.(ev));
    this.connection.on("gen.stream", (ev) => {
      const sink = this.genSinks.get(ev.callId);
      if (sink) return sink(ev);
      // Items can arrive in the same frame as the gen.start reply, before the iterator has
      // registered: keep them (bounded) until it does.
      const early = this.earlyGen.get(ev.callId);
      if (early) early.push(ev);
      else this.earlyGen.set(ev.callId, [ev]);
    });
  }

  /** Internal: routes a generator call's items to its iterator. */
  _onGenStream(callId: string, sink: (ev: EventMap["gen.stream"]) => void): () => void {
    this.genSinks.set(callId, sink);
    const early = this.earlyGen.get(callId);
    this.earlyGen.delete(callId);
    for (const ev of early ?? []) sink(ev);
    return () => this.genSinks.delete(callId);
  }

  /** Internal: routes a map's results to its iterator. */
  _onMapOutputs(callId: string, sink: (ev: EventMap["map.outputs"]) => void): () => void {
    this.mapSinks.set(callId, sink);
    return () => this.mapSinks.delete(callId);
  }

  private static envClient: Promise<Client> | undefined;
  private static readonly givenEnvClients = new WeakMap<object, Promise<Client>>();

  /**
   * The default client. With no argument: configured by SKIFF_SERVER_URL / SKIFF_TOKEN_ID /
   * SKIFF_TOKEN_SECRET / SKIFF_ENVIRONMENT, else the active profile of ~/.skiff.toml (on Node,
   * Bun and Deno), or the one given to `Client.setDefault`; created once per process. With an
   * environment object (a Cloudflare Worker's `env`): the same names read from it, and no
   * file; one client per object, except under workerd: there a connection belongs to one
   * request, so each call makes a client (call it in the request handler).
   * @throws ConnectionError if no server is configured, InvalidError if the configuration is bad.
   */
  static fromEnv(env?: object): Promise<Client> {
    if (env !== undefined) return Client.fromEnvObject(env);
    if (!Client.envClient) {
      Client.envClient = findConfig().then((found) => {
        if (!found) throw new ConnectionError(nodeCapabilities() ? NOT_CONFIGURED_NODE : NOT_CONFIGURED_PORTABLE);
        return new Client({ ...found.config, configSource: found.source });
      });
      Client.envClient.catch(() => {
        Client.envClient = undefined;
      });
    }
    return Client.envClient;
  }

  // `object`, not a record: a Worker's `Env` is an interface, which has no index signature.
  private static fromEnvObject(env: object): Promise<Client> {
    if (typeof env !== "object" || env === null)
      return Promise.reject(new InvalidError(`Client.fromEnv(env): env must be an object, got ${describe(env)}`));
    let made = Client.givenEnvClients.get(env);
    if (!made) {
      const strings: Record<string, string | undefined> = {};
      for (const name of CONFIG_NAMES) {
        const v = (env as Record<string, unknown>)[name];
        if (v !== undefined && typeof v !== "string")
          return Promise.reject(
            new InvalidError(`Client.fromEnv(env): env.${name} must be a string, got ${describe(v)}`),
          );
        strings[name] = v;
      }
      made = findConfig(strings, { file: false, where: "the env object given to Client.fromEnv" }).then((found) => {
        if (!found)
          throw new ConnectionError(
            "Client.fromEnv(env): env has no SKIFF_SERVER_URL: set SKIFF_SERVER_URL, SKIFF_TOKEN_ID and SKIFF_TOKEN_SECRET (in a Cloudflare Worker: vars and secrets in wrangler.toml / wrangler secret put)",
          );
        return new Client({ ...found.config, configSource: found.source });
      });
      if (IS_WORKERD) return made;
      // A failure is not kept: the next call reads the object again.
      made.catch(() => Client.givenEnvClients.delete(env));
      Client.givenEnvClients.set(env, made);
    }
    return made;
  }

  /**
   * Makes `client` the one that handles use when given no `{ client }` (`Client.fromEnv()`);
   * `undefined` goes back to reading the environment.
   */
  static setDefault(client: Client | undefined): void {
    if (client !== undefined && !(client instanceof Client))
      throw new InvalidError(`Client.setDefault: expected a Client, got ${describe(client)}`);
    Client.envClient = client ? Promise.resolve(client) : undefined;
  }

  /** Internal alias of setDefault (the CLI and the container runtime). */
  static _setDefault(client: Client | undefined): void {
    Client.setDefault(client);
  }

  request<N extends RequestName>(
    name: N,
    params: RequestParams<N>,
    options?: RequestOptions,
  ): Promise<RequestResult<N>> {
    return this.connection.request(name, params, options);
  }

  /** Internal: a new idempotency key for a call (Connection.newCallKey). */
  newCallKey(): string {
    return this.connection.newCallKey();
  }

  /** Internal: the connection, for event subscriptions (logs). */
  get _connection(): Connection {
    return this.connection;
  }

  close(): void {
    this.connection.close();
  }
}

/**
 * The `client` option of handles: a Client, or the promise `Client.fromEnv(env)` returns (a
 * Worker builds its client from its bindings that way, api.md §8).
 */
export type ClientOption = Client | Promise<Client>;

/** Resolves the client a handle should use. */
export function resolveClient(client: ClientOption | undefined): Promise<Client> {
  return client ? Promise.resolve(client) : Client.fromEnv();
}

const CONFIG_NAMES = ["SKIFF_SERVER_URL", "SKIFF_TOKEN_ID", "SKIFF_TOKEN_SECRET", "SKIFF_ENVIRONMENT"] as const;

const NOT_CONFIGURED_NODE =
  "no Skiff server configured: set SKIFF_SERVER_URL (and a token), or run `skiff server` once to write ~/.skiff.toml";
const NOT_CONFIGURED_PORTABLE =
  "no Skiff server configured: here (no file system) make one, new Client({ serverUrl, tokenId, tokenSecret, environment }), and pass { client } or call Client.setDefault(client); in a Cloudflare Worker, Client.fromEnv(env)";

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v;
}

/** Explicit configuration is checked as the environment's is: a bad one is named now, not at the first call. */
function checkParams(params: ClientParams): void {
  if (typeof params !== "object" || params === null)
    throw new InvalidError(
      `new Client(params): expected { serverUrl, tokenId, tokenSecret, environment }, got ${describe(params)}`,
    );
  if (typeof params.serverUrl !== "string")
    throw new InvalidError(`new Client: serverUrl must be a string, got ${describe(params.serverUrl)}`);
  // Configuration read from a file or the environment was checked there, naming the setting.
  if (!params.configSource) checkServerUrl(params.serverUrl, "serverUrl given to new Client");
  for (const k of ["tokenId", "tokenSecret", "environment"] as const) {
    if (typeof params[k] !== "string" || params[k] === "")
      throw new InvalidError(`new Client: ${k} must be a non-empty string, got ${describe(params[k])}`);
  }
}
