import { InvalidError, SkiffError } from "skiff";
import { UsageError } from "./errors.js";
import { setDebug, ui } from "./output.js";

const HELP = `Skiff: serverless TypeScript functions on infrastructure you host.

Usage: skiff <command> [options]

  server                     run the control plane (embedded store, local containers)
  run <app.ts>[::fn] [-- ARG...]
                             run an ephemeral app (an embedded server if none is configured)
  deploy <app.ts>            deploy an app: its functions become callable by name
  serve <app.ts>             serve an app's web endpoints, reloading on every saved change
  app list|logs|stop|history apps and their deployments
  token new [--web]          create a token and write a profile
  secret create|list|delete  secrets for functions

Global options: --help, --version, --debug (show stack traces)
Configuration: SKIFF_SERVER_URL, SKIFF_TOKEN_ID, SKIFF_TOKEN_SECRET, SKIFF_ENVIRONMENT,
or the active profile of ~/.skiff.toml (SKIFF_CONFIG_PATH, SKIFF_PROFILE).`;

type Command = { run(argv: string[]): Promise<number>; help: string };

/** Commands load on use: `skiff --help` need not load esbuild, SQLite and the server. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  server: async () => {
    const m = await import("./commands/server.js");
    return { run: m.serverCommand, help: m.SERVER_HELP };
  },
  run: async () => {
    const m = await import("./commands/run.js");
    return { run: m.runCommand, help: m.RUN_HELP };
  },
  deploy: async () => {
    const m = await import("./commands/deploy.js");
    return { run: m.deployCommand, help: m.DEPLOY_HELP };
  },
  serve: async () => {
    const m = await import("./commands/serve.js");
    return { run: m.serveCommand, help: m.SERVE_HELP };
  },
  app: async () => {
    const m = await import("./commands/app.js");
    return { run: m.appCommand, help: m.APP_HELP };
  },
  token: async () => {
    const m = await import("./commands/token.js");
    return { run: m.tokenCommand, help: m.TOKEN_HELP };
  },
  secret: async () => {
    const m = await import("./commands/secret.js");
    return { run: m.secretCommand, help: m.SECRET_HELP };
  },
};

/** Entry point of the `skiff` command. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const dd = argv.indexOf("--");
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const debug = own.includes("--debug");
  const args = argv.filter((a, i) => !(a === "--debug" && (dd < 0 || i < dd)));
  setDebug(debug);
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    ui.out(HELP);
    return 0;
  }
  if (name === "--version" || name === "-v") {
    ui.out("skiff 0.1.0");
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    ui.error(`unknown command ${JSON.stringify(name)}; run \`skiff --help\``);
    return 2;
  }
  const cmd = await load();
  const restOwn = rest.indexOf("--") >= 0 ? rest.slice(0, rest.indexOf("--")) : rest;
  if (restOwn.includes("--help") || restOwn.includes("-h")) {
    ui.out(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    reportError(err, debug);
    return err instanceof UsageError || isParseArgsError(err) ? 2 : 1;
  }
}

function isParseArgsError(err: unknown): boolean {
  return (
    typeof (err as { code?: unknown })?.code === "string" && (err as { code: string }).code.startsWith("ERR_PARSE_ARGS")
  );
}

function reportError(err: unknown, debug: boolean): void {
  if (debug) {
    console.error(err);
    return;
  }
  const e = err as Error;
  if (err instanceof UsageError || err instanceof InvalidError || isParseArgsError(err)) ui.error(e.message);
  else if (err instanceof SkiffError) ui.error(`${e.name}: ${e.message}`);
  else if (err instanceof Error)
    ui.error(`${e.name === "Error" ? "" : `${e.name}: `}${e.message} (run with --debug for the stack)`);
  else ui.error(String(err));
}
