import { inspect } from "node:util";
import type { LogEntry } from "@skiff/protocol";
import type { Command } from "commander";
import { type App, Cls, type Function_ } from "skiff";
import { bundleApp } from "../bundle.js";
import { connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { loadApps, pickApp } from "../load-app.js";
import { ui } from "../output.js";
import { argsAfterDashDash, envOption, GROUPS, takesArgsAfterDashDash } from "../program.js";
import { ProgressLines } from "../progress.js";
import { publishApp } from "../publish.js";
import { printWebUrls } from "../web-urls.js";

export function register(program: Command): void {
  const cmd = program
    .command("run")
    .helpGroup(GROUPS.apps)
    .summary("run an ephemeral app (an embedded server if none is configured)")
    .description(
      "Runs an ephemeral app: its localEntrypoint runs here, the functions it calls run in containers, and their logs stream here. With ::function (or ::Class.method, on the instance with default parameters), calls that one function with the arguments after --, each parsed as JSON when it parses, else taken as a string; a generator's items print as they come.\n\nWith no server configured, an embedded one runs for the length of the command.",
    )
    .usage("[options] <app.ts>[::function] [-- ARG...]")
    .argument("<app.ts>", "the app file, or app.ts::function, or app.ts::Class.method")
    .addOption(envOption())
    .action((target: string, opts: { env?: string }) => runCommand(target, argsAfterDashDash(), opts));
  takesArgsAfterDashDash(cmd);
}

/** Each argument after `--`: JSON when it parses, else the string itself. */
export function parseCliArg(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

async function runCommand(targetArg: string, rest: string[], values: { env?: string }): Promise<void> {
  const fnArgs = rest.map(parseCliArg);
  const [file, fnName] = targetArg.split("::") as [string, string | undefined];

  const bundle = await bundleApp(file);
  const app = pickApp(await loadApps(bundle), file);
  const target = fnName ? findTarget(app, fnName) : undefined;
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
    // The embedded server's own lines (re-queueing, cgroups) are internals: --debug shows them.
    log: (m) => {
      if (ui.debug) ui.info(ui.dim(`[server] ${m}`));
    },
  });
  // A line per running map on a terminal; nothing of it when output goes to a file or a pipe.
  const progress = process.stderr.isTTY ? new ProgressLines(process.stderr) : undefined;
  if (progress) conn.client._mapProgress = (e) => progress.update(e);
  let appId: string | undefined;
  let lastLogAt = 0;
  try {
    const res = await publishApp(conn.client, app, bundle, "ephemeral", conn.environment);
    appId = res.appId;
    printWebUrls(conn.client.serverUrl, res.functions);
    conn.client._connection.on("log", ({ entry }: { entry: LogEntry }) => {
      lastLogAt = Date.now();
      (entry.stream === "stderr" ? process.stderr : process.stdout).write(entry.text);
    });
    await conn.client.request("app.logs", {
      appId,
      environment: conn.environment,
      tail: 0,
      follow: true,
    });
    const show = (v: unknown) =>
      ui.out(typeof v === "string" ? v : inspect(v, { depth: 6, colors: process.stdout.isTTY }));
    if (target?.isGenerator) {
      for await (const item of target.fn.remoteGen(...(fnArgs as never[]))) show(item);
    } else if (target) {
      show(await target.fn.remote(...(fnArgs as never[])));
    } else {
      await app._entrypoint!();
    }
  } finally {
    progress?.close();
    if (appId) await conn.client.request("app.stop", { appId, environment: conn.environment }).catch(() => {});
    // `@exit` hooks run as the containers stop, after that reply: their output is still on its
    // way. Wait for the logs to go quiet (bounded) so it is shown, only for apps that have them.
    if (appId && app._classes.some((c) => c.members.exit.length > 0)) await logsQuiet(() => lastLogAt, 400, 3000);
    await conn.close();
  }
}

/** Resolves once no log line came for `quietMs` (and at least `quietMs` passed), or after `maxMs`. */
async function logsQuiet(lastAt: () => number, quietMs: number, maxMs: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const now = Date.now();
    if (now - start >= maxMs || now - Math.max(lastAt(), start) >= quietMs) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `fn`, or `Class.method` (on the instance with default parameters). */
function findTarget(app: App, name: string): { fn: Function_; isGenerator: boolean } {
  const names = () => [
    ...app._functions.map((f) => f.name),
    ...app._classes.flatMap((c) => [...c.members.methods.keys()].map((m) => `${c.name}.${m}`)),
  ];
  const dot = name.indexOf(".");
  if (dot > 0) {
    const def = app._class(name.slice(0, dot));
    const method = name.slice(dot + 1);
    const m = def?.members.methods.get(method);
    if (def && m) {
      const instance = Cls.from(def.ctor).instance() as unknown as Record<string, Function_>;
      return { fn: instance[method]!, isGenerator: m.isGenerator };
    }
  } else {
    const fn = app._function(name);
    if (fn) return { fn, isGenerator: fn.isGenerator };
  }
  throw new UsageError(`app "${app.name}" has no function "${name}" (it has: ${names().join(", ")})`);
}
