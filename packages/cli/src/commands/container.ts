import type { LogEntry } from "@skiff/protocol";
import type { Command } from "commander";
import { withServer } from "../connect.js";
import { ExitWith, UsageError } from "../errors.js";
import { relayTerminal } from "../exec-terminal.js";
import { table, ui } from "../output.js";
import { argsAfterDashDash, commandGroup, envOption, GROUPS, takesArgsAfterDashDash } from "../program.js";
import { formatLog } from "./app.js";

type Env = { env?: string };

const uptime = (since: number) => {
  const s = Math.max(0, Math.floor((Date.now() - since) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
};

export function register(program: Command): void {
  const container = commandGroup(program, "container", "running containers", GROUPS.apps);
  container
    .command("list")
    .description("running containers: id, app, function, host, state, uptime")
    .addOption(envOption())
    .action((o: Env) =>
      withServer(o, async (client, environment) => {
        const { containers } = await client.request("container.list", { environment });
        if (containers.length === 0) {
          ui.out(`no running containers in environment "${environment}"`);
          return;
        }
        ui.out(
          table([
            ["ID", "APP", "FUNCTION", "HOST", "STATE", "UPTIME", "INPUTS"],
            ...containers.map((c) => [
              c.containerId,
              c.appName,
              c.functionName,
              c.host,
              c.state,
              uptime(c.startedAt),
              String(c.inputs),
            ]),
          ]),
        );
      }),
    );
  container
    .command("logs")
    .description("a running container's recent logs")
    .argument("<id>", "the container (from `skiff container list`)")
    .option("--tail <n>", "how many recent lines", "100")
    .option("-f, --follow", "keep printing new lines until Ctrl-C or the container stops", false)
    .addOption(envOption())
    .action((id: string, o: Env & { tail: string; follow: boolean }) =>
      withServer(o, async (client) => {
        const tail = Number(o.tail);
        if (!Number.isInteger(tail) || tail < 0 || tail > 10_000)
          throw new UsageError("--tail must be an integer from 0 to 10000");
        if (o.follow) client._connection.on("log", ({ entry }: { entry: LogEntry }) => ui.out(formatLog(entry)));
        const res = await client.request("container.logs", { containerId: id, tail, follow: o.follow });
        for (const e of res.entries) ui.out(formatLog(e));
        if (!o.follow) return;
        const release = client._connection.hold();
        // Until Ctrl-C, or until the container is gone (polled: it has no event of its own).
        await new Promise<void>((resolve) => {
          const timer = setInterval(async () => {
            const { containers } = await client.request("container.list", { environment: client.environment });
            if (!containers.some((c) => c.containerId === id)) finish();
          }, 1000);
          const finish = () => {
            clearInterval(timer);
            resolve();
          };
          process.once("SIGINT", finish);
        });
        release();
      }),
    );
  const exec = container
    .command("exec")
    .description(
      "runs a command in a running container, with its environment; a terminal when this is one (Ctrl-C goes to the command)",
    )
    .usage("[options] <id> -- <command> [ARG...]")
    .argument("<id>", "the container (from `skiff container list`)")
    .addOption(envOption())
    .action((id: string, o: Env) =>
      withServer(o, async (client) => {
        const argv = argsAfterDashDash();
        if (argv.length === 0) throw new UsageError(`give the command after --: skiff container exec ${id} -- ls -la`);
        const code = await relayTerminal(client, (t) =>
          client.request("container.exec", { containerId: id, argv, ...t }),
        );
        if (code !== 0) throw new ExitWith(code);
      }),
    );
  takesArgsAfterDashDash(exec);
}
