import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { activeProfile, configPath, loadConfig, readProfiles, writeProfile } from "skiff";
import { connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { table, ui } from "../output.js";
import { commandGroup, GROUPS } from "../program.js";

export function register(program: Command): void {
  const token = commandGroup(program, "token", "API and web endpoint tokens", GROUPS.access);
  token
    .command("new")
    .description(
      "Creates a token on the configured server (needs an admin token). An API token (the default) is written to a profile of ~/.skiff.toml (the active one unless --profile), so later commands use it; a web endpoint token (--web) is printed once.",
    )
    .summary("create a token and write a profile (or, with --web, a web endpoint token)")
    .option("--web", "a token for web endpoints with requiresAuth, printed once", false)
    .option("--worker", "a token that may only join as a worker (`skiff worker --token-file`): needs --output", false)
    .option("--output <file>", "with --worker: the file to write it to (mode 600)")
    .option("--profile <name>", "the profile to write the API token to (default: the active one)")
    .option("--activate", "make that profile the active one", false)
    .option("--expires-in <duration>", "the token stops working after this long: 30d, 12h, 45m, 90s")
    .option("--environment <name>", "scope: the token reaches only this environment (written to the profile too)")
    .option(
      "--apps <a,b>",
      "scope: the token calls, deploys and stops only these apps (of --environment, or main), and reads but never writes that environment's objects",
    )
    .action(tokenNew);
  token
    .command("list")
    .summary("list the server's tokens (ids, kinds, scopes, expiry, revocation; never secrets)")
    .description("Lists the tokens of the configured server (needs an admin token).")
    .action(tokenList);
  token
    .command("revoke")
    .argument("<tokenId>", "the token's id (tk-…), as `skiff token list` shows it")
    .summary("revoke a token: refused at once, its connected clients closed")
    .description(
      "Revokes a token (needs an admin token): from now on it is refused, and clients connected with it are disconnected with an error saying so.",
    )
    .action(tokenRevoke);
}

/** `30d`, `12h`, `45m`, `90s` (or plain milliseconds) in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--expires-in must look like 30d, 12h, 45m or 90s, got ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "ms") as "ms"];
  return Number(m[1]) * unit;
}

async function tokenList(): Promise<void> {
  const conn = await connect({ embedded: false, log: ui.info });
  try {
    const { tokens } = await conn.client.request("token.list", {});
    const when = (t: number | null) => (t ? new Date(t).toISOString().replace(/\.\d+Z$/, "Z") : "-");
    const now = Date.now();
    ui.out(
      table([
        ["TOKEN ID", "KIND", "CREATED", "EXPIRES", "STATE", "SCOPE"],
        ...tokens.map((t) => {
          const state = t.revokedAt ? "revoked" : t.expiresAt && t.expiresAt <= now ? "expired" : "active";
          const scope = !t.environment
            ? "all"
            : t.apps
              ? `env ${t.environment}, apps ${t.apps.join(",")} (objects read-only)`
              : `env ${t.environment}`;
          return [t.tokenId, t.kind, when(t.createdAt), when(t.expiresAt), state, scope];
        }),
      ]),
    );
  } finally {
    await conn.close();
  }
}

async function tokenRevoke(tokenId: string): Promise<void> {
  const conn = await connect({ embedded: false, log: ui.info });
  try {
    await conn.client.request("token.revoke", { tokenId });
    ui.step(`Revoked token ${tokenId}: it is refused from now on, and its connections were closed`);
  } finally {
    await conn.close();
  }
}

async function tokenNew(values: {
  web: boolean;
  worker: boolean;
  output?: string;
  profile?: string;
  activate: boolean;
  expiresIn?: string;
  environment?: string;
  apps?: string;
}): Promise<void> {
  const expiresInMs = values.expiresIn !== undefined ? parseDuration(values.expiresIn) : undefined;
  const apps = values.apps
    ?.split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  if (values.apps !== undefined && apps!.length === 0) throw new UsageError("--apps needs app names: --apps a,b");
  if ((values.environment !== undefined || apps) && (values.web || values.worker))
    throw new UsageError("--environment and --apps scope API tokens, not --web or --worker ones");
  if (values.worker && values.web) throw new UsageError("--worker and --web name different kinds of token: pick one");
  if (values.worker && !values.output)
    throw new UsageError("--worker needs --output FILE (the file `skiff worker --token-file` reads)");
  if (values.output && !values.worker) throw new UsageError("--output is for --worker tokens");
  const config = await loadConfig();
  const conn = await connect({ embedded: false, log: ui.info });
  try {
    const t = await conn.client.request("token.create", {
      kind: values.worker ? "worker" : values.web ? "web" : "api",
      ...(expiresInMs !== undefined ? { expiresInMs } : {}),
      ...(values.environment !== undefined ? { environment: values.environment } : {}),
      ...(apps ? { apps } : {}),
    });
    if (values.worker) {
      writeFileSync(values.output!, `${t.tokenId}:${t.tokenSecret}\n`, { mode: 0o600, flag: "wx" });
      ui.step(`Created worker token ${t.tokenId} and wrote it to ${values.output}`);
      ui.info(
        `On the worker host: skiff worker --server ${config!.serverUrl} --token-file ${values.output} (it may do nothing but join as a worker)`,
      );
      return;
    }
    if (values.web) {
      ui.step(`Created web endpoint token ${t.tokenId}`);
      ui.out(`token id:     ${t.tokenId}\ntoken secret: ${t.tokenSecret}`);
      ui.info(
        "Send both with each request to an endpoint with requiresAuth (headers Skiff-Token-Id / Skiff-Token-Secret). The secret is not shown again.",
      );
      return;
    }
    const file = await configPath();
    const current = activeProfile(await readProfiles(file));
    const name = values.profile ?? current?.[0] ?? "default";
    await writeProfile(
      file,
      name,
      {
        server_url: config!.serverUrl,
        token_id: t.tokenId,
        token_secret: t.tokenSecret,
        // A scoped token's profile uses the environment it is held to.
        environment: values.environment ?? (apps ? "main" : config!.environment),
      },
      values.activate || !current,
    );
    ui.step(`Created token ${t.tokenId} and wrote it to profile "${name}" in ${file}`);
    if (values.environment !== undefined || apps)
      ui.info(
        `It reaches only environment "${values.environment ?? "main"}"${apps ? `, calls and deploys only ${apps.join(", ")}, and reads but never writes that environment's objects` : ""}.`,
      );
  } finally {
    await conn.close();
  }
}
