import { Client, loadConfig } from "skiff";
import { UsageError } from "./errors.js";
import { startEmbeddedServer } from "./local-server.js";

export interface Connected {
  client: Client;
  environment: string;
  /** Set when an embedded server was started for this command. */
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * The configured server, or (when `embedded` is allowed and none is configured) a
 * server started in this process for the length of the command.
 */
export async function connect(opts: {
  embedded: boolean;
  environment?: string;
  log: (m: string) => void;
}): Promise<Connected> {
  const config = await loadConfig();
  if (config) {
    const environment = opts.environment ?? config.environment;
    const client = new Client({ ...config, environment });
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
  const { server, stop } = await startEmbeddedServer(opts.log);
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
