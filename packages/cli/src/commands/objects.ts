import type { ObjectKindWire } from "@skiff/protocol";
import type { Command } from "commander";
import { withServer } from "../connect.js";
import { table, ui } from "../output.js";
import { commandGroup, envOption, GROUPS } from "../program.js";

const KINDS: { kind: ObjectKindWire; title: string; what: string }[] = [
  { kind: "dict", title: "Dict", what: "key-value stores shared by apps and clients" },
  { kind: "queue", title: "Queue", what: "FIFO queues shared by apps and clients" },
  { kind: "volume", title: "Volume", what: "file trees mounted into containers" },
];

/** `skiff dict|queue|volume create|list|delete` (api.md §9). */
export function register(program: Command): void {
  for (const { kind, title, what } of KINDS) {
    const group = commandGroup(program, kind, what, GROUPS.objects);
    group
      .command("create")
      .description(`creates a named ${title} (an existing one of that name is an error)`)
      .argument("<name>", `the ${title}`)
      .addOption(envOption())
      .action((name: string, o: { env?: string }) =>
        withServer(o, async (client, environment) => {
          const r = await client.request("object.get", { kind, name, environment, createIfMissing: true });
          if (!r.created) throw new Error(`${title} "${name}" already exists in environment "${environment}"`);
          ui.step(`Created ${title} "${name}" in environment "${environment}"`);
        }),
      );
    group
      .command("list")
      .description(`named ${title}s of the environment`)
      .addOption(envOption())
      .action((o: { env?: string }) =>
        withServer(o, async (client, environment) => {
          const { objects } = await client.request("object.list", { kind, environment });
          if (objects.length === 0) ui.out(`no ${title}s in environment "${environment}"`);
          else
            ui.out(
              table([
                ["NAME", "ID", "CREATED"],
                ...objects.map((x) => [x.name, x.objectId, new Date(x.createdAt).toISOString()]),
              ]),
            );
        }),
      );
    group
      .command("delete")
      .description(`deletes a ${title} and everything in it`)
      .argument("<name>", `the ${title}`)
      .addOption(envOption())
      .action((name: string, o: { env?: string }) =>
        withServer(o, async (client, environment) => {
          await client.request("object.delete", { kind, name, environment });
          ui.step(`Deleted ${title} "${name}"`);
        }),
      );
  }
}
