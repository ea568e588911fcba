import { readdirSync } from "node:fs";
import { Command, Help, Option } from "commander";
import { UsageError } from "./errors.js";
import { ui } from "./output.js";
import { VERSION } from "./version.js";

// The `skiff` command line, parsed by Commander. Each file of commands/ is one command group
// and adds itself: `export function register(program: Command)`, calling `program.command(…)`
// (or `commandGroup(program, "token", …)` to add to a group another file may also extend).
// Actions throw to fail: UsageError exits 2, anything else 1; main() prints one line.

/**
 * Headings of `skiff --help`, in the order shown. A command file picks one with
 * `.helpGroup(GROUPS.apps)`; a heading not listed here comes after these.
 */
export const GROUPS = {
  apps: "Apps:",
  objects: "Objects:",
  access: "Access:",
  server: "Server and workers:",
} as const;

/** A command file in commands/: it adds its command (group) to the program. */
export interface CommandModule {
  register(program: Command): void;
}

/** The `<group>` command (`skiff app`, `skiff token`…), created by whichever file names it first. */
export function commandGroup(program: Command, name: string, description: string, group: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing) return existing;
  return program.command(name).description(description).helpGroup(group);
}

/** `--env NAME`, which every command talking to a server takes. */
export function envOption(): Option {
  return new Option("--env <name>", "the environment (default: the profile's, or SKIFF_ENVIRONMENT, or main)");
}

// What follows the first `--` of the command line: never parsed as options. Only commands
// marked with takesArgsAfterDashDash accept any (`skiff run app.ts::fn -- ARGS`).
let afterDashDash: string[] = [];
const takesRest = new WeakSet<Command>();

export function takesArgsAfterDashDash(cmd: Command): Command {
  takesRest.add(cmd);
  return cmd;
}

/** The arguments after `--`, for a command marked with takesArgsAfterDashDash. */
export function argsAfterDashDash(): string[] {
  return afterDashDash;
}

/** `skiff app logs` for a (sub)command. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Commander's error text (`error: unknown option '--prot'\n(Did you mean --port?)`) as one line. */
export function oneLine(text: string): string {
  return text
    .trim()
    .replace(/^error: /, "")
    .replace(/'([^'\n]*)'/g, '"$1"')
    .replace(/\s*\n\(Did you mean (.*)\?\)/, " (did you mean $1?)")
    .replace(/\s*\n\s*/g, " ")
    .replace(/\.$/, "");
}

const groupRank = (heading: string) => {
  const i = (Object.values(GROUPS) as string[]).indexOf(heading);
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
};

/** The `skiff` program: global options, help layout, and every command file of commands/. */
export async function buildProgram(argv: string[]): Promise<{ program: Command; argv: string[] }> {
  const dd = argv.indexOf("--");
  afterDashDash = dd >= 0 ? argv.slice(dd + 1) : [];
  const program = new Command("skiff")
    .description("Skiff: serverless TypeScript functions on infrastructure you host.")
    .usage("<command> [options]")
    .version(`skiff ${VERSION}`, "-v, --version", "print the version")
    .option("--debug", "show stack traces of errors")
    .helpOption("-h, --help", "show help (also: skiff help <command>)")
    .helpCommand("help [command]", "show help for a command")
    .exitOverride()
    .configureHelp({
      // `deploy <app.ts>`, `app <command>`: how each is typed, not Commander's `[options]` filler.
      subcommandTerm: (cmd) => {
        let usage = cmd
          .usage()
          .replace(/\[options\]\s*/g, "")
          .trim();
        if (cmd.commands.length > 0) usage = usage.replace("[command]", "<command>");
        return usage ? `${cmd.name()} ${usage}` : cmd.name();
      },
      groupItems<T extends Command | Option>(
        unsorted: T[],
        visible: T[],
        getGroup: (item: T) => string,
      ): Map<string, T[]> {
        const byRank = [...unsorted].sort((a, b) => groupRank(getGroup(a)) - groupRank(getGroup(b)));
        return new Help().groupItems(byRank, visible, getGroup);
      },
    })
    .addHelpText(
      "after",
      `
Configuration: SKIFF_SERVER_URL, SKIFF_TOKEN_ID, SKIFF_TOKEN_SECRET, SKIFF_ENVIRONMENT,
or the active profile of ~/.skiff.toml (SKIFF_CONFIG_PATH, SKIFF_PROFILE).`,
    );
  program.hook("preAction", (_program, action) => {
    if (afterDashDash.length > 0 && !takesRest.has(action))
      throw new UsageError(`${commandPath(action)} takes no arguments after --`);
  });

  const files = commandFiles();
  const load = async (file: string) => {
    const mod = (await import(new URL(`./commands/${file}`, import.meta.url).href)) as Partial<CommandModule>;
    if (typeof mod.register !== "function") throw new Error(`commands/${file} does not export register(program)`);
    return mod as CommandModule;
  };
  // `skiff run …`: only the file of that name, where what it adds is that one command with no
  // subcommands (so no other file adds to it): the command runs, and its help and errors
  // read, as with every file loaded, without loading the others (each with its imports).
  // Anything else (help, a group, a typo to suggest for) loads them all, in their order.
  const first = argv[0] ?? "";
  const own = files.find((f) => f.replace(/\.(js|ts)$/, "") === first);
  const mod = own ? await load(own) : undefined;
  const alone = new Command("skiff");
  mod?.register(alone);
  if (
    mod &&
    alone.commands.length === 1 &&
    alone.commands[0]!.name() === first &&
    alone.commands[0]!.commands.length === 0
  )
    mod.register(program);
  else for (const file of files) (await load(file)).register(program);
  // Every (sub)command reports Commander's parse errors as one line naming its own help.
  const forEach = (cmd: Command) => {
    cmd.configureOutput({
      outputError: (text) => ui.error(`${oneLine(text)}; see \`${commandPath(cmd)} --help\``),
    });
    cmd.commands.forEach(forEach);
  };
  forEach(program);
  return { program, argv: dd >= 0 ? argv.slice(0, dd) : argv };
}

/** The command files: one per command group, in a stable order (help order comes from GROUPS). */
function commandFiles(): string[] {
  return readdirSync(new URL("./commands/", import.meta.url))
    .filter((f) => /\.(js|ts)$/.test(f) && !/\.(d|test)\.ts$/.test(f))
    .sort();
}

/** An integer flag's value within [min, max], or a UsageError naming the flag. */
export function int(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}
