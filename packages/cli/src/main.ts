import { InvalidError, SkiffError } from "skiff";
import { APP_HELP, appCommand } from "./commands/app.js";
import { DEPLOY_HELP, deployCommand } from "./commands/deploy.js";
import { RUN_HELP, runCommand } from "./commands/run.js";
import { SECRET_HELP, secretCommand } from "./commands/secret.js";
import { SERVER_HELP, serverCommand } from "./commands/server.js";
import { TOKEN_HELP, tokenCommand } from "./commands/token.js";
import { UsageError } from "./errors.js";
import { ui } from "./output.js";

const HELP = `Skiff: serverless TypeScript functions on infrastructure you host.

Usage: skiff <command> [options]

  server                     run the control plane (embedded store, local containers)
  run <app.ts>[::fn] [-- ARG...]
                             run an ephemeral app (an embedded server if none is configured)
  deploy <app.ts>            deploy an app: its functions become callable by name
  app list|logs|stop|history apps and their deployments
  token new [--web]          create a token and write a profile
  secret create|list|delete  secrets for functions

Global options: --help, --version, --debug (show stack traces)
Configuration: SKIFF_SERVER_URL, SKIFF_TOKEN_ID, SKIFF_TOKEN_SECRET, SKIFF_ENVIRONMENT,
or the active profile of ~/.skiff.toml (SKIFF_CONFIG_PATH, SKIFF_PROFILE).`;

const COMMANDS: Record<string, [(argv: string[]) => Promise<number>, string]> = {
  server: [serverCommand, SERVER_HELP],
  run: [runCommand, RUN_HELP],
  deploy: [deployCommand, DEPLOY_HELP],
  app: [appCommand, APP_HELP],
  token: [tokenCommand, TOKEN_HELP],
  secret: [secretCommand, SECRET_HELP],
};

/** Entry point of the `skiff` command. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const dd = argv.indexOf("--");
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const debug = own.includes("--debug");
  const args = argv.filter((a, i) => !(a === "--debug" && (dd < 0 || i < dd)));
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    ui.out(HELP);
    return 0;
  }
  if (name === "--version" || name === "-v") {
    ui.out("skiff 0.1.0");
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    ui.error(`unknown command ${JSON.stringify(name)}; run \`skiff --help\``);
    return 2;
  }
  const restOwn = rest.indexOf("--") >= 0 ? rest.slice(0, rest.indexOf("--")) : rest;
  if (restOwn.includes("--help") || restOwn.includes("-h")) {
    ui.out(cmd[1]);
    return 0;
  }
  try {
    return await cmd[0](rest);
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
