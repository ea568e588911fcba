import type { Command } from "commander";
import { withServer } from "../connect.js";
import { UsageError } from "../errors.js";
import { table, ui } from "../output.js";
import { commandGroup, envOption, GROUPS } from "../program.js";

export function register(program: Command): void {
  const secret = commandGroup(program, "secret", "secrets for functions", GROUPS.access);
  secret
    .command("create")
    .description("creates (or with --force replaces) a secret")
    .argument("<name>", "the secret")
    .argument("<KEY=VALUE...>", "its keys and values")
    .option("--force", "replace a secret of that name", false)
    .addOption(envOption())
    .action(async (name: string, pairs: string[], o: { env?: string; force: boolean }) => {
      const values = parsePairs(pairs);
      await withServer(o, async (client, environment) => {
        await client.request("secret.create", { name, environment, values, overwrite: o.force });
        ui.step(`Created secret "${name}" with keys ${Object.keys(values).join(", ")}`);
      });
    });
  secret
    .command("list")
    .description("secrets and their keys (never their values)")
    .addOption(envOption())
    .action((o: { env?: string }) =>
      withServer(o, async (client, environment) => {
        const { secrets } = await client.request("secret.list", { environment });
        if (secrets.length === 0) ui.out(`no secrets in environment "${environment}"`);
        else
          ui.out(
            table([
              ["NAME", "KEYS", "CREATED"],
              ...secrets.map((s) => [s.name, s.keys.join(","), new Date(s.createdAt).toISOString()]),
            ]),
          );
      }),
    );
  secret
    .command("delete")
    .description("deletes a secret")
    .argument("<name>", "the secret")
    .addOption(envOption())
    .action((name: string, o: { env?: string }) =>
      withServer(o, async (client, environment) => {
        await client.request("secret.delete", { name, environment });
        ui.step(`Deleted secret "${name}"`);
      }),
    );
}

/** `KEY=VALUE` arguments as an object; the value is never echoed in an error. */
function parsePairs(pairs: string[]): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new UsageError(
        `expected KEY=VALUE, got ${JSON.stringify(pair.length > 40 ? `${pair.slice(0, 40)}…` : pair.split("=")[0])}`,
      );
    kv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return kv;
}
