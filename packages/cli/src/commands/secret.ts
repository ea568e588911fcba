import { parseArgs } from "node:util";
import { connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { table, ui } from "../output.js";

export const SECRET_HELP = `Usage: skiff secret <command> [--env NAME]

  create <NAME> KEY=VALUE ... [--force]   creates (or with --force replaces) a secret
  list                                    secrets and their keys (never their values)
  delete <NAME>                           deletes a secret`;

export async function secretCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { env: { type: "string" }, force: { type: "boolean", default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (!["create", "list", "delete"].includes(sub ?? ""))
    throw new UsageError(`unknown secret command ${JSON.stringify(sub ?? "")}\n${SECRET_HELP}`);
  let name: string | undefined;
  const kv: Record<string, string> = {};
  if (sub !== "list") {
    name = positionals[0];
    if (!name) throw new UsageError(`skiff secret ${sub} needs a secret name`);
  }
  if (sub === "create") {
    for (const pair of positionals.slice(1)) {
      const eq = pair.indexOf("=");
      if (eq <= 0)
        throw new UsageError(
          `expected KEY=VALUE, got ${JSON.stringify(pair.length > 40 ? `${pair.slice(0, 40)}…` : pair.split("=")[0])}`,
        );
      kv[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    if (Object.keys(kv).length === 0)
      throw new UsageError("skiff secret create NAME KEY=VALUE ... needs at least one KEY=VALUE");
  }
  const conn = await connect({
    embedded: false,
    ...(values.env ? { environment: values.env } : {}),
    log: ui.info,
  });
  const environment = conn.environment;
  try {
    if (sub === "create") {
      await conn.client.request("secret.create", {
        name: name!,
        environment,
        values: kv,
        overwrite: values.force,
      });
      ui.step(`Created secret "${name}" with keys ${Object.keys(kv).join(", ")}`);
    } else if (sub === "delete") {
      await conn.client.request("secret.delete", { name: name!, environment });
      ui.step(`Deleted secret "${name}"`);
    } else {
      const { secrets } = await conn.client.request("secret.list", { environment });
      if (secrets.length === 0) ui.out(`no secrets in environment "${environment}"`);
      else
        ui.out(
          table([
            ["NAME", "KEYS", "CREATED"],
            ...secrets.map((s) => [s.name, s.keys.join(","), new Date(s.createdAt).toISOString()]),
          ]),
        );
    }
    return 0;
  } finally {
    await conn.close();
  }
}
