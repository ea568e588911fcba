import { inspect, parseArgs } from "node:util";
import type { LogEntry } from "@skiff/protocol";
import { bundleApp } from "../bundle.js";
import { connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { loadApps, pickApp } from "../load-app.js";
import { ui } from "../output.js";
import { publishApp } from "../publish.js";
import { printWebUrls } from "../web-urls.js";

export const RUN_HELP = `Usage: skiff run <app.ts>[::function] [--env NAME] [-- ARG ...]

Runs an ephemeral app: its localEntrypoint runs here, the functions it calls run in
containers, and their logs stream here. With ::function, calls that one function with
the arguments after --, each parsed as JSON when it parses, else taken as a string.
With no server configured, an embedded one runs for the length of the command.`;

/** Each argument after `--`: JSON when it parses, else the string itself. */
export function parseCliArg(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const dashdash = argv.indexOf("--");
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const fnArgs = dashdash >= 0 ? argv.slice(dashdash + 1).map(parseCliArg) : [];
  const { values, positionals } = parseArgs({
    args: own,
    options: { env: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError("skiff run takes one target: <app.ts> or <app.ts>::<function>");
  const [file, fnName] = positionals[0]!.split("::") as [string, string | undefined];

  const bundle = await bundleApp(file);
  const app = pickApp(await loadApps(bundle), file);
  const target = fnName ? app._function(fnName) : undefined;
  if (fnName && !target)
    throw new UsageError(
      `app "${app.name}" has no function "${fnName}" (it has: ${app._functions.map((f) => f.name).join(", ")})`,
    );
  if (!fnName && !app._entrypoint) {
    throw new UsageError(
      `app "${app.name}" has no localEntrypoint: add app.localEntrypoint(…), or call one function with \`skiff run ${file}::<function> -- ARGS\` (functions: ${app._functions.map((f) => f.name).join(", ")})`,
    );
  }
  if (fnArgs.length > 0 && !fnName)
    throw new UsageError("arguments after -- need a function: skiff run app.ts::fn -- ARGS");

  const conn = await connect({
    embedded: true,
    ...(values.env ? { environment: values.env } : {}),
    log: (m) => ui.info(ui.dim(`[server] ${m}`)),
  });
  let appId: string | undefined;
  try {
    const res = await publishApp(conn.client, app, bundle, "ephemeral", conn.environment);
    appId = res.appId;
    printWebUrls(conn.client.serverUrl, res.functions);
    conn.client._connection.on("log", ({ entry }: { entry: LogEntry }) => {
      (entry.stream === "stderr" ? process.stderr : process.stdout).write(entry.text);
    });
    await conn.client.request("app.logs", {
      appId,
      environment: conn.environment,
      tail: 0,
      follow: true,
    });
    if (target) {
      const result = await target.remote(...(fnArgs as never[]));
      ui.out(typeof result === "string" ? result : inspect(result, { depth: 6, colors: process.stdout.isTTY }));
    } else {
      await app._entrypoint!();
    }
    return 0;
  } finally {
    if (appId) await conn.client.request("app.stop", { appId, environment: conn.environment }).catch(() => {});
    await conn.close();
  }
}
