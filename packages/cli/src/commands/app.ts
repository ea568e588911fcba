import type { LogEntry } from "@skiff/protocol";
import type { Command } from "commander";
import type { Client } from "skiff";
import { withServer } from "../connect.js";
import { UsageError } from "../errors.js";
import { table, ui } from "../output.js";
import { commandGroup, envOption, GROUPS } from "../program.js";

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

export function formatLog(e: LogEntry): string {
  const tag = [e.functionName, e.inputId].filter(Boolean).join(" ");
  const text = e.text.endsWith("\n") ? e.text.slice(0, -1) : e.text;
  return `${new Date(e.ts).toISOString()} ${tag ? `[${tag}] ` : ""}${text}`;
}

export function register(program: Command): void {
  const app = commandGroup(program, "app", "apps and their deployments", GROUPS.apps);
  app
    .command("list")
    .description("apps in the environment")
    .addOption(envOption())
    .action((o: Env) => withServer(o, (c, environment) => list(c, environment)));
  app
    .command("logs")
    .description("an app's recent logs (kept per app, newest 10000 lines)")
    .argument("<name>", "the app")
    .option("--tail <n>", "how many recent lines", "100")
    .option("-f, --follow", "keep printing new lines until Ctrl-C", false)
    .addOption(envOption())
    .action((name: string, o: Env & { tail: string; follow: boolean }) =>
      withServer(o, (c, environment) => logs(c, environment, name, o)),
    );
  app
    .command("stop")
    .description("stops an app: its functions take no more calls")
    .argument("<name>", "the app")
    .addOption(envOption())
    .action((name: string, o: Env) =>
      withServer(o, async (c, environment) => {
        const { appId } = await c.request("app.stop", { name, environment });
        ui.step(`Stopped app "${name}" (${appId})`);
      }),
    );
  app
    .command("show")
    .description("an app's functions with their live scaling (updateAutoscaler changes show here) and pools")
    .argument("<name>", "the app")
    .addOption(envOption())
    .action((name: string, o: Env) => withServer(o, (c, environment) => show(c, environment, name)));
  app
    .command("history")
    .description("an app's deployments")
    .argument("<name>", "the app")
    .addOption(envOption())
    .action((name: string, o: Env) =>
      withServer(o, async (c, environment) => {
        const { deployments } = await c.request("app.history", { name, environment });
        ui.out(
          table([
            ["VERSION", "DEPLOYED", "FUNCTIONS"],
            ...deployments.map((d) => [String(d.version), when(d.createdAt), d.functions.join(",")]),
          ]),
        );
      }),
    );
}

type Env = { env?: string };

async function list(client: Client, environment: string): Promise<void> {
  const { apps } = await client.request("app.list", { environment });
  if (apps.length === 0) ui.out(`no apps in environment "${environment}"`);
  else
    ui.out(
      table([
        ["NAME", "ID", "MODE", "STATE", "VERSION", "CREATED", "FUNCTIONS"],
        ...apps.map((a) => [
          a.name,
          a.appId,
          a.mode,
          a.state,
          String(a.version),
          when(a.createdAt),
          a.functions.join(","),
        ]),
      ]),
    );
}

const secs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

async function show(client: Client, environment: string, name: string): Promise<void> {
  const { app, functions } = await client.request("app.show", { name, environment });
  // A deployed app's state is "deployed" too: said once ("deployed", "ephemeral, running", "deployed, stopped").
  const status = app.state === app.mode ? app.mode : `${app.mode}, ${app.state}`;
  ui.out(`${app.name} (${app.appId}): ${status}, version ${app.version}`);
  ui.out(
    table([
      ["FUNCTION", "KIND", "MIN", "MAX", "BUFFER", "SCALEDOWN", "INPUTS", "BATCH", "CONTAINERS", "BACKLOG", "UPDATED"],
      ...functions.map((f) => [
        f.name,
        f.kind,
        String(f.minContainers),
        String(f.maxContainers),
        String(f.bufferContainers),
        secs(f.scaledownWindowMs),
        String(f.maxInputs),
        f.batched ? `${f.batched.maxBatchSize}/${secs(f.batched.waitMs)}` : "-",
        String(f.containers),
        String(f.backlog),
        f.autoscalerUpdatedAt ? `live ${when(f.autoscalerUpdatedAt)}` : "-",
      ]),
    ]),
  );
}

async function logs(
  client: Client,
  environment: string,
  name: string,
  o: { tail: string; follow: boolean },
): Promise<void> {
  const tail = Number(o.tail);
  if (!Number.isInteger(tail) || tail < 0 || tail > 10_000)
    throw new UsageError("--tail must be an integer from 0 to 10000");
  if (o.follow) client._connection.on("log", ({ entry }: { entry: LogEntry }) => ui.out(formatLog(entry)));
  const res = await client.request("app.logs", { name, environment, tail, follow: o.follow });
  for (const e of res.entries) ui.out(formatLog(e));
  if (o.follow) {
    client._connection.hold();
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  }
}
