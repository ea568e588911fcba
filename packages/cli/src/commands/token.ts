import { parseArgs } from "node:util";
import { activeProfile, configPath, loadConfig, readProfiles, writeProfile } from "skiff";
import { connect } from "../connect.js";
import { ui } from "../output.js";

export const TOKEN_HELP = `Usage: skiff token new [--web] [--profile NAME] [--activate]

Creates a token on the configured server (needs an admin token).
  API token (default): written to a profile of ~/.skiff.toml (the active one unless
                       --profile), so later commands use it.
  --web              : an endpoint token for web endpoints with requiresAuth, printed once.`;

export async function tokenCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      web: { type: "boolean", default: false },
      profile: { type: "string" },
      activate: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (sub !== "new") {
    ui.info(TOKEN_HELP);
    return 2;
  }
  const config = await loadConfig();
  const conn = await connect({ embedded: false, log: ui.info });
  try {
    const t = await conn.client.request("token.create", { kind: values.web ? "web" : "api" });
    if (values.web) {
      ui.step(`Created web endpoint token ${t.tokenId}`);
      ui.out(`token id:     ${t.tokenId}\ntoken secret: ${t.tokenSecret}`);
      ui.info(
        "Send both with each request to an endpoint with requiresAuth (headers Skiff-Token-Id / Skiff-Token-Secret). The secret is not shown again.",
      );
      return 0;
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
    return 0;
  } finally {
    await conn.close();
  }
}
