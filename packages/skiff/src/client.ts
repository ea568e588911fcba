import type { EventMap, MapOutputWire, RequestName, RequestParams, RequestResult } from "@skiff/protocol";
import { type ClientConfig, findConfig } from "./config.js";
import { ConnectionError } from "./errors.js";
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
  private readonly mapSinks = new Map<string, (items: MapOutputWire[]) => void>();
  private readonly genSinks = new Map<string, (ev: EventMap["gen.stream"]) => void>();
  private readonly earlyGen = new Map<string, EventMap["gen.stream"][]>();
  /** Internal: told how each running map is doing (the CLI draws progress lines from it). */
  _mapProgress: MapProgressListener | undefined;

  constructor(params: ClientParams) {
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
    });
    this.connection.on("map.outputs", ({ callId, items }) => this.mapSinks.get(callId)?.(items));
    this.connection.on("gen.stream", (ev) => {
      const sink = this.genSinks.get(ev.callId);
      if (sink) return sink(ev);
      // Items can arrive in the same frame as the gen.start reply, before the iterator has
      // registered: keep them (bounded) until it does.
      const early = this.earlyGen.get(ev.callId) ?? [];
      early.push(ev);
      this.earlyGen.set(ev.callId, early);
      if (this.earlyGen.size > 256) this.earlyGen.delete(this.earlyGen.keys().next().value as string);
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
  _onMapOutputs(callId: string, sink: (items: MapOutputWire[]) => void): () => void {
    this.mapSinks.set(callId, sink);
    return () => this.mapSinks.delete(callId);
  }

  private static envClient: Promise<Client> | undefined;

  /**
   * The client configured by SKIFF_SERVER_URL / SKIFF_TOKEN_ID / SKIFF_TOKEN_SECRET /
   * SKIFF_ENVIRONMENT, else the active profile of ~/.skiff.toml. Created once per process.
   * @throws ConnectionError if no server is configured.
   */
  static fromEnv(): Promise<Client> {
    if (!Client.envClient) {
      Client.envClient = findConfig().then((found) => {
        if (!found) {
          throw new ConnectionError(
            "no Skiff server configured: set SKIFF_SERVER_URL (and a token), or run `skiff server` once to write ~/.skiff.toml",
          );
        }
        return new Client({ ...found.config, configSource: found.source });
      });
      Client.envClient.catch(() => {
        Client.envClient = undefined;
      });
    }
    return Client.envClient;
  }

  /** Replaces the process default (used by the CLI and the container runtime). */
  static _setDefault(client: Client | undefined): void {
    Client.envClient = client ? Promise.resolve(client) : undefined;
  }

  request<N extends RequestName>(
    name: N,
    params: RequestParams<N>,
    options?: RequestOptions,
  ): Promise<RequestResult<N>> {
    return this.connection.request(name, params, options);
  }

  /** Internal: the connection, for event subscriptions (logs). */
  get _connection(): Connection {
    return this.connection;
  }

  close(): void {
    this.connection.close();
  }
}

/** Resolves the client a handle should use. */
export function resolveClient(client: Client | undefined): Promise<Client> {
  return client ? Promise.resolve(client) : Client.fromEnv();
}
