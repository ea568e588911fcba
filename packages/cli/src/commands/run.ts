import { inspect } from "node:util";
import { type LogEntry, trace } from "@skiff/protocol";
import type { Command } from "commander";
import { type App, Cls, type Function_ } from "skiff";
import { bundleApp } from "../bundle.js";
import { type Connected, connect } from "../connect.js";
import { UsageError } from "../errors.js";
import { type Interrupt, Interrupted, onInterrupt } from "../interrupt.js";
import { loadApps, pickApp, removeLoadedBundles } from "../load-app.js";
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
      "Runs an ephemeral app: its localEntrypoint runs here, the functions it calls run in containers, and their logs stream here. With ::function (or ::Class.method, on the instance with default parameters), calls that one function with the arguments after --, each parsed as JSON when it parses, else taken as a string; a generator's items print as they come.\n\nWith no server configured (or with --embedded), an embedded one runs for the length of the command. Ctrl-C stops the app and removes what the run made; a second Ctrl-C exits at once.",
    )
    .usage("[options] <app.ts>[::function] [-- ARG...]")
    .argument("<app.ts>", "the app file, or app.ts::function, or app.ts::Class.method")
    .addOption(envOption())
    .option("--embedded", "run on a server started for this command, whatever server is configured")
    .action((target: string, opts: { env?: string; embedded?: boolean }) =>
      runCommand(target, argsAfterDashDash(), opts),
    );
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

async function runCommand(
  targetArg: string,
  rest: string[],
  values: { env?: string; embedded?: boolean },
): Promise<void> {
  const run = new Run(targetArg, rest.map(parseCliArg), values);
  const interrupt = onInterrupt();
  const work = run.start(interrupt);
  try {
    await Promise.race([work, interrupt.signal]);
  } finally {
    // Interrupted: the work is abandoned where it stands (its calls fail as the connection
    // closes); the app is stopped and the embedded server, its containers and files go.
    if (interrupt.fired) work.catch(() => {});
    await run.stop(interrupt.fired);
    interrupt.dispose();
  }
  if (interrupt.fired) throw new Interrupted();
}

/** One `skiff run`: what it started, so that an interrupt at any point stops exactly that. */
class Run {
  private conn: Promise<Connected> | undefined;
  private appId: string | undefined;
  private app: App | undefined;
  private lastLogAt = 0;
  private progress: ProgressLines | undefined;

  constructor(
    private readonly targetArg: string,
    private readonly fnArgs: unknown[],
    private readonly values: { env?: string; embedded?: boolean },
  ) {}

  async start(interrupt: Interrupt): Promise<void> {
    const [file, fnName] = this.targetArg.split("::") as [string, string | undefined];
    // The server (an embedded one loads its code, opens its store and pre-starts the runtimes
    // of its warm pool) comes up while the app is bundled and loaded here: on the way to the
    // first result these overlap instead of adding up. Its errors are reported after the app's.
    this.conn = connect({
      embedded: this.values.embedded ? "force" : true,
      ...(this.values.env ? { environment: this.values.env } : {}),
      // The embedded server's own lines (re-queueing, cgroups) are internals: --debug shows them.
      log: (m) => {
        if (ui.debug) ui.info(ui.dim(`[server] ${m}`));
      },
      embeddedHint: `skiff run --embedded ${this.targetArg}`,
    });
    this.conn.catch(() => {}); // awaited below, or closed by stop()
    // Cached between runs (bundle-cache.ts): an unchanged app is not bundled again.
    const bundle = await bundleApp(file, [], { cache: true });
    trace("app bundled");
    const app = pickApp(await loadApps(bundle), file);
    trace("app loaded");
    this.app = app;
    const target = fnName ? findTarget(app, fnName) : undefined;
    if (!fnName && !app._entrypoint) {
      throw new UsageError(
        `app "${app.name}" has no localEntrypoint: add app.localEntrypoint(…), or call one function with \`skiff run ${file}::<function> -- ARGS\` (functions: ${app._functions.map((f) => f.name).join(", ")})`,
      );
    }
    if (this.fnArgs.length > 0 && !fnName)
      throw new UsageError("arguments after -- need a function: skiff run app.ts::fn -- ARGS");
    if (interrupt.fired) return;
    const conn = await this.conn;
    trace("connected");
    if (interrupt.fired) return;
    // A line per running map on a terminal; nothing of it when output goes to a file or a pipe.
    if (process.stderr.isTTY) {
      const progress = new ProgressLines(process.stderr);
      this.progress = progress;
      conn.client._mapProgress = (e) => progress.update(e);
    }
    const res = await publishApp(conn.client, app, bundle, "ephemeral", conn.environment);
    this.appId = res.appId;
    trace("app published");
    if (interrupt.fired) return;
    printWebUrls(conn.client.serverUrl, res.functions);
    conn.client._connection.on("log", ({ entry }: { entry: LogEntry }) => {
      this.lastLogAt = Date.now();
      (entry.stream === "stderr" ? process.stderr : process.stdout).write(entry.text);
    });
    await conn.client.request("app.logs", {
      appId: res.appId,
      environment: conn.environment,
      tail: 0,
      follow: true,
    });
    const show = (v: unknown) =>
      ui.out(typeof v === "string" ? v : inspect(v, { depth: 6, colors: process.stdout.isTTY }));
    const args = this.fnArgs as never[];
    if (target?.isGenerator) {
      for await (const item of target.fn.remoteGen(...args)) {
        if (interrupt.fired) return;
        show(item);
      }
    } else if (target) {
      const v = await target.fn.remote(...args);
      if (!interrupt.fired) show(v);
    } else {
      await app._entrypoint!();
    }
    trace("entrypoint done");
  }

  /** Stops the app and closes the connection (and an embedded server); quick when interrupted. */
  async stop(interrupted: boolean): Promise<void> {
    this.progress?.close();
    const conn = await this.conn?.catch(() => undefined);
    if (conn) {
      if (this.appId)
        await conn.client.request("app.stop", { appId: this.appId, environment: conn.environment }).catch(() => {});
      trace("app stopped");
      // `@exit` hooks run as the containers stop, after that reply: their output is still on its
      // way. Wait for the logs to go quiet (bounded) so it is shown, only for apps that have them.
      if (!interrupted && this.appId && this.app?._classes.some((c) => c.members.exit.length > 0))
        await logsQuiet(() => this.lastLogAt, 400, 3000);
      await conn.close();
      trace("connection closed");
    }
    removeLoadedBundles();
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
