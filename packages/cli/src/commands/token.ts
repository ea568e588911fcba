import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { activeProfile, configPath, loadConfig, readProfiles, writeProfile } from "skiff";
import { connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { ui } from "../output.js";
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
    .action(tokenNew);
}

async function tokenNew(values: {
  web: boolean;
  worker: boolean;
  output?: string;
  profile?: string;
  activate: boolean;
}): Promise<void> {
  if (values.worker && values.web) throw new UsageError("--worker and --web name different kinds of token: pick one");
  if (values.worker && !values.output)
    throw new UsageError("--worker needs --output FILE (the file `skiff worker --token-file` reads)");
  if (values.output && !values.worker) throw new UsageError("--output is for --worker tokens");
  const config = await loadConfig();
  const conn = await connect({ embedded: false, log: ui.info });
  try {
    const t = await conn.client.request("token.create", {
      kind: values.worker ? "worker" : values.web ? "web" : "api",
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
        environment: config!.environment,
      },
      values.activate || !current,
    );
    ui.step(`Created token ${t.tokenId} and wrote it to profile "${name}" in ${file}`);
  } finally {
    await conn.close();
  }
}
