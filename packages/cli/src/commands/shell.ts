import type { Command } from "commander";
import type { App } from "skiff";
import { _webSpecOf } from "skiff/internal";
import { bundleApp } from "../bundle.js";
import { connect } from "../connect.js";
import { ExitWith, UsageError } from "../errors.js";
import { relayTerminal } from "../exec-terminal.js";
import { loadApps, pickApp } from "../load-app.js";
import { ui } from "../output.js";
import { envOption, GROUPS } from "../program.js";
import { publishApp } from "../publish.js";

export function register(program: Command): void {
  program
    .command("shell")
    .helpGroup(GROUPS.apps)
    .summary("a shell (or one command) in a new container of a function")
    .description(
      "Starts a new container of the function, with its image, environment, secrets and volumes, and opens an interactive shell in it (a real terminal: line editing, Ctrl-C, window size), or runs --cmd and exits with its status. The container takes no inputs and is removed on exit. The app runs ephemeral for the length of the shell (an embedded server if none is configured). With one function in the app, ::function may be left out.",
    )
    .usage("[options] <app.ts>[::function]")
    .argument("<app.ts>", "the app file, or app.ts::function (or ::Class)")
    .option("--cmd <command>", "run this command (with /bin/sh -c) instead of an interactive shell")
    .addOption(envOption())
    .action((target: string, o: { env?: string; cmd?: string }) => shell(target, o));
}

async function shell(targetArg: string, o: { env?: string; cmd?: string }): Promise<void> {
  const [file, name] = targetArg.split("::") as [string, string | undefined];
  if (o.cmd !== undefined && o.cmd.trim() === "") throw new UsageError("--cmd needs a command");
  const bundle = await bundleApp(file);
  const app = pickApp(await loadApps(bundle), file);
  const picked = pick(app, name, file);
  const conn = await connect({
    embedded: true,
    ...(o.env ? { environment: o.env } : {}),
    log: (m) => ui.info(ui.dim(`[server] ${m}`)),
  });
  let appId: string | undefined;
  let code: number;
  try {
    const res = await publishApp(conn.client, app, bundle, "ephemeral", conn.environment);
    appId = res.appId;
    const info = res.functions.find((f) => f.name === picked);
    if (!info) throw new Error(`the server did not return function "${picked}"`);
    if (process.stdin.isTTY && o.cmd === undefined)
      ui.info(ui.dim(`shell in a new container of ${app.name}.${picked}; exit (or Ctrl-D) to leave`));
    code = await relayTerminal(conn.client, (t) =>
      conn.client.request("shell.open", {
        functionId: info.functionId,
        ...t,
        ...(o.cmd !== undefined ? { argv: ["/bin/sh", "-c", o.cmd] } : {}),
      }),
    );
  } finally {
    if (appId) await conn.client.request("app.stop", { appId, environment: conn.environment }).catch(() => {});
    await conn.close();
  }
  if (code !== 0) throw new ExitWith(code);
}

/** The function (or class) to open a shell for: named, or the app's only one. */
function pick(app: App, name: string | undefined, file: string): string {
  const fns = app._functions.map((f) => ({ name: f.name, web: Boolean(_webSpecOf(f)) }));
  const all = [...fns, ...app._classes.map((c) => ({ name: c.name, web: false }))];
  const list = all.map((f) => f.name).join(", ") || "none";
  if (name === undefined) {
    if (all.length === 1) return checkNotWeb(app, all[0]!);
    throw new UsageError(
      `app "${app.name}" has ${all.length} functions: name one, as in \`skiff shell ${file}::${all[0]?.name ?? "fn"}\` (it has: ${list})`,
    );
  }
  const found = all.find((f) => f.name === name) ?? all.find((f) => f.name === name.split(".")[0]);
  if (!found) throw new UsageError(`app "${app.name}" has no function "${name}" (it has: ${list})`);
  return checkNotWeb(app, found);
}

function checkNotWeb(app: App, f: { name: string; web: boolean }): string {
  if (f.web)
    throw new UsageError(
      `${app.name}.${f.name} is a web endpoint: skiff shell opens a shell in a function's container; name a function or class of the app instead`,
    );
  return f.name;
}
