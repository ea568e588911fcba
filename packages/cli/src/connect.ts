import { trace } from "@skiff/protocol";
import { Client, ConnectionError, findConfig } from "skiff";
import { UsageError } from "./errors.js";
import { ui } from "./output.js";

export interface Connected {
  client: Client;
  environment: string;
  /** Set when an embedded server was started for this command. */
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * The configured server, or (when `embedded` is allowed and none is configured, or `force`
 * says so) a server started in this process for the length of the command. The configured
 * server is connected to here, so one that is down or refuses the token is reported before
 * any work, within two seconds.
 */
export async function connect(opts: {
  /** Start an embedded server when none is configured (`run`, `serve`), or always ("force"). */
  embedded: boolean | "force";
  environment?: string;
  log: (m: string) => void;
  /** What the command would do on an embedded server instead, for the error (`skiff run --embedded`). */
  embeddedHint?: string;
}): Promise<Connected> {
  const found = opts.embedded === "force" ? undefined : await findConfig();
  if (found) {
    const environment = opts.environment ?? found.config.environment;
    const client = new Client({ ...found.config, environment, configSource: found.source });
    try {
      await client._connection.connect();
    } catch (err) {
      client.close();
      if (err instanceof ConnectionError && opts.embeddedHint)
        throw new ConnectionError(`${err.message}; or run on an embedded server: ${opts.embeddedHint}`);
      throw err;
    }
    Client._setDefault(client);
    return {
      client,
      environment,
      embedded: false,
      async close() {
        client.close();
      },
    };
  }
  if (!opts.embedded) {
    throw new UsageError(
      "no Skiff server configured: start one with `skiff server` (it writes ~/.skiff.toml), or set SKIFF_SERVER_URL and a token",
    );
  }
  // Loaded here: commands that talk to a configured server never load the server's code.
  trace("config looked up");
  const { startEmbeddedServer } = await import("./local-server.js");
  trace("server code loaded");
  const { server, stop } = await startEmbeddedServer(opts.log);
  trace("server started");
  const token = server.createdAdminToken!;
  const environment = opts.environment ?? "main";
  const client = new Client({
    serverUrl: server.url,
    tokenId: token.tokenId,
    tokenSecret: token.tokenSecret,
    environment,
  });
  Client._setDefault(client);
  return {
    client,
    environment,
    embedded: true,
    async close() {
      client.close();
      await stop();
    },
  };
}

/**
 * Runs `fn` with a client of the configured server (never an embedded one: what it does must
 * outlive the command), in `--env` or the configured environment, then closes the client.
 */
export async function withServer<T>(
  opts: { env?: string },
  fn: (client: Client, environment: string) => Promise<T>,
): Promise<T> {
  const conn = await connect({ embedded: false, ...(opts.env ? { environment: opts.env } : {}), log: ui.info });
  try {
    return await fn(conn.client, conn.environment);
  } finally {
    await conn.close();
  }
}
