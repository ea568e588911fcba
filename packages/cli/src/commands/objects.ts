import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ObjectKindWire } from "@skiff/protocol";
import type { Command } from "commander";
import { InvalidError, Volume } from "skiff";
import { withServer } from "../connect.js";
import { UsageError } from "../errors.js";
import { formatBytes, table, ui } from "../output.js";
import { commandGroup, envOption, GROUPS } from "../program.js";

const KINDS: { kind: ObjectKindWire; title: string; what: string }[] = [
  { kind: "dict", title: "Dict", what: "key-value stores shared by apps and clients" },
  { kind: "queue", title: "Queue", what: "FIFO queues shared by apps and clients" },
  { kind: "volume", title: "Volume", what: "file trees mounted into containers" },
];

/** `skiff dict|queue|volume create|list|delete` (api.md §9), and `skiff volume ls|get|put|rm`. */
export function register(program: Command): void {
  registerObjects(program);
  registerVolumeFiles(program);
}

function registerObjects(program: Command): void {
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

/** `skiff volume ls|get|put|rm NAME PATH` (api.md §9): files of a volume from the shell. */
function registerVolumeFiles(program: Command): void {
  const volume = commandGroup(program, "volume", "file trees mounted into containers", GROUPS.objects);
  volume
    .command("ls")
    .description("lists a directory of the volume's newest version")
    .argument("<name>", "the Volume")
    .argument("[path]", "a directory in it", "/")
    .option("-r, --recursive", "every file below", false)
    .addOption(envOption())
    .action((name: string, path: string, o: { env?: string; recursive: boolean }) =>
      withServer(o, async (client) => {
        const entries = await Volume.fromName(name, { client }).listFiles(path, { recursive: o.recursive });
        ui.out(
          table([
            ["PATH", "TYPE", "SIZE"],
            ...entries.map((e) => [e.type === "directory" ? `${e.path}/` : e.path, e.type, formatBytes(e.size)]),
          ]),
        );
      }),
    );
  volume
    .command("get")
    .description("downloads a file of the volume (to stdout with -)")
    .argument("<name>", "the Volume")
    .argument("<path>", "the file in the volume")
    .argument("[local]", "where to write it (default: its name here; - for stdout)")
    .addOption(envOption())
    .action((name: string, path: string, local: string | undefined, o: { env?: string }) =>
      withServer(o, async (client) => {
        const stream = Volume.fromName(name, { client }).readFile(path);
        const to = local ?? basename(path);
        const out = to === "-" ? process.stdout : createWriteStream(to);
        await pipeline(Readable.fromWeb(stream as import("node:stream/web").ReadableStream<Uint8Array>), out, {
          end: to !== "-",
        });
        if (to !== "-") ui.step(`Wrote ${to}`);
      }),
    );
  volume
    .command("put")
    .description("uploads a local file into the volume (from stdin with -) and commits it")
    .argument("<name>", "the Volume")
    .argument("<local>", "the local file (- for stdin)")
    .argument("[path]", "where in the volume (default: its name, at the root)")
    .addOption(envOption())
    .action((name: string, local: string, path: string | undefined, o: { env?: string }) =>
      withServer(o, async (client) => {
        const dest = path ?? basename(local);
        if (local !== "-") {
          const st = await stat(local).catch(() => undefined);
          if (!st) throw new UsageError(`no local file ${local}`);
          if (st.isDirectory()) throw new UsageError(`${local} is a directory: put files one at a time`);
        }
        const src = local === "-" ? process.stdin : createReadStream(local, { highWaterMark: 1024 * 1024 });
        await Volume.fromName(name, { client }).writeFile(dest, src as AsyncIterable<Uint8Array>);
        ui.step(`Put ${local} at ${dest} in Volume "${name}"`);
      }),
    );
  volume
    .command("rm")
    .description("removes a file (or with -r a directory) from the volume and commits")
    .argument("<name>", "the Volume")
    .argument("<path>", "the file or directory")
    .option("-r, --recursive", "remove a directory and what it holds", false)
    .addOption(envOption())
    .action((name: string, path: string, o: { env?: string; recursive: boolean }) =>
      withServer(o, async (client) => {
        await Volume.fromName(name, { client })
          .removeFile(path, { recursive: o.recursive })
          .catch((err: unknown) => {
            // The server's hint names the SDK's option; here the flag is what to pass.
            if (err instanceof InvalidError && err.message.includes("pass { recursive: true }"))
              throw new InvalidError(err.message.replace("pass { recursive: true }", "pass -r"));
            throw err;
          });
        ui.step(`Removed ${path} from Volume "${name}"`);
      }),
    );
}
