import { parseArgs } from "node:util";
import type { LogEntry } from "@skiff/protocol";
import { connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { table, ui } from "../output.js";

export const APP_HELP = `Usage: skiff app <command> [--env NAME]

  list                      apps in the environment
  logs <name> [--tail N] [--follow]
                            an app's recent logs (kept per app, newest 10000 lines)
  stop <name>               stops an app: its functions take no more calls
  history <name>            an app's deployments`;

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

export function formatLog(e: LogEntry): string {
  const tag = [e.functionName, e.inputId].filter(Boolean).join(" ");
  const text = e.text.endsWith("\n") ? e.text.slice(0, -1) : e.text;
  return `${new Date(e.ts).toISOString()} ${tag ? `[${tag}] ` : ""}${text}`;
}

export async function appCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      env: { type: "string" },
      tail: { type: "string", default: "100" },
      follow: { type: "boolean", short: "f", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const name = positionals[0];
  const needName = () => {
    if (!name) throw new UsageError(`skiff app ${sub} needs an app name`);
    return name;
  };
  if (!["list", "logs", "stop", "history"].includes(sub ?? ""))
    throw new UsageError(`unknown app command ${JSON.stringify(sub ?? "")}\n${APP_HELP}`);
  const conn = await connect({
    embedded: false,
    ...(values.env ? { environment: values.env } : {}),
    log: ui.info,
  });
  const environment = conn.environment;
  try {
    switch (sub) {
      case "list": {
        const { apps } = await conn.client.request("app.list", { environment });
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
        return 0;
      }
      case "history": {
        const { deployments } = await conn.client.request("app.history", {
          name: needName(),
          environment,
        });
        ui.out(
          table([
            ["VERSION", "DEPLOYED", "FUNCTIONS"],
            ...deployments.map((d) => [String(d.version), when(d.createdAt), d.functions.join(",")]),
          ]),
        );
        return 0;
      }
      case "stop": {
        const { appId } = await conn.client.request("app.stop", { name: needName(), environment });
        ui.step(`Stopped app "${name}" (${appId})`);
        return 0;
      }
      case "logs": {
        const tail = Number(values.tail);
        if (!Number.isInteger(tail) || tail < 0 || tail > 10_000)
          throw new UsageError("--tail must be an integer from 0 to 10000");
        if (values.follow)
          conn.client._connection.on("log", ({ entry }: { entry: LogEntry }) => ui.out(formatLog(entry)));
        const res = await conn.client.request("app.logs", {
          name: needName(),
          environment,
          tail,
          follow: values.follow,
        });
        for (const e of res.entries) ui.out(formatLog(e));
        if (values.follow) {
          conn.client._connection.hold();
          await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
        }
        return 0;
      }
    }
    return 1;
  } finally {
    await conn.close();
  }
}
