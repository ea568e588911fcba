import type { Command } from "commander";
import { withServer } from "../connect.js";
import { table, ui } from "../output.js";
import { commandGroup, GROUPS } from "../program.js";

export function register(program: Command): void {
  const env = commandGroup(
    program,
    "environment",
    "environments: apps, secrets and objects live in one",
    GROUPS.access,
  );
  env
    .command("create")
    .argument("<name>", "the environment (letters, digits, . _ -)")
    .summary("create an environment")
    .description(
      'Creates an environment. Apps, deployments, secrets and named objects live in one ("main" exists from the start); commands take --env NAME, clients SKIFF_ENVIRONMENT or the profile\'s `environment`.',
    )
    .action((name: string) =>
      withServer({}, async (client) => {
        await client.request("environment.create", { name });
        ui.step(`Created environment "${name}" (use it with --env ${name} or SKIFF_ENVIRONMENT=${name})`);
      }),
    );
  env
    .command("list")
    .summary("list environments")
    .description("Lists the server's environments (a scoped token sees its own).")
    .action(() =>
      withServer({}, async (client) => {
        const { environments } = await client.request("environment.list", {});
        ui.out(
          table([
            ["NAME", "CREATED"],
            ...environments.map((e) => [e.name, new Date(e.createdAt).toISOString().replace(/\.\d+Z$/, "Z")]),
          ]),
        );
      }),
    );
  env
    .command("delete")
    .argument("<name>", "the environment")
    .summary("delete an empty environment")
    .description(
      'Deletes an environment. Refused while it holds running apps, objects (named or ephemeral) or secrets: stop and delete those first (nothing is deleted with it). "main" cannot be deleted.',
    )
    .action((name: string) =>
      withServer({}, async (client) => {
        await client.request("environment.delete", { name });
        ui.step(`Deleted environment "${name}"`);
      }),
    );
}
