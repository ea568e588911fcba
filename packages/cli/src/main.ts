import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { trace } from "@skiff/protocol";
import { CommanderError } from "commander";
import { InvalidError, SkiffError } from "skiff";
import { ExitWith, UsageError } from "./errors.js";
import { Interrupted } from "./interrupt.js";
import { setDebug, ui } from "./output.js";
import { buildProgram } from "./program.js";

/**
 * Entry point of the `skiff` command. Returns the exit code: 0, 1 for a failure, 2 for a
 * mistake in how it was called (unknown command or flag, no command, bad argument), 130 once
 * a command stopped by Ctrl-C has cleaned up.
 */
export async function main(argv: string[]): Promise<number> {
  ignoreClosedOutput();
  const { program, argv: own } = await buildProgram(argv);
  trace("commands loaded");
  // Before parsing: commands read it while they run (the embedded server's lines in `skiff run`).
  const dd = argv.indexOf("--");
  setDebug((dd >= 0 ? argv.slice(0, dd) : argv).includes("--debug"));
  try {
    await program.parseAsync(own, { from: "user" });
    return 0;
  } catch (err) {
    // Commander already printed its message (help, version, or a one-line parse error).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ExitWith) return err.code;
    if (err instanceof Interrupted) return err.exitCode;
    reportError(err, program.opts().debug === true || own.includes("--debug"));
    return err instanceof UsageError ? 2 : 1;
  }
}

/**
 * A reader that stopped reading (`skiff … | head`) is not an error of the command: what it
 * would still print goes nowhere, and the command finishes as it would (an embedded server
 * still stops its containers), instead of dying of an unhandled EPIPE.
 */
function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
    });
  }
}

/** One line for the user; the stack only with --debug. */
function reportError(err: unknown, debug: boolean): void {
  if (debug) {
    console.error(err);
    return;
  }
  if (err instanceof UsageError || err instanceof InvalidError) ui.error(err.message);
  // The class name is the label (`NotFoundError: no app "x"`), in place of `Error:`, not after it.
  else if (err instanceof SkiffError) ui.error(err.message, err.name);
  else if (err instanceof Error) {
    const at = userFrame(err.stack);
    ui.error(
      `${err.message} (${at ? `at ${at}; ` : ""}run with --debug for the stack)`,
      err.name === "Error" ? undefined : err.name,
    );
  } else ui.error(String(err));
}

/**
 * The first frame of a stack in a TypeScript file (the app's own code: stacks made in
 * containers are mapped back to it), relative to the working directory: where to look.
 */
export function userFrame(stack: string | undefined): string | undefined {
  const m = /\(?((?:file:\/\/)?\/[^():\s]+\.[cm]?tsx?):(\d+):(\d+)\)?$/m.exec(stack ?? "");
  if (!m) return undefined;
  const file = m[1]!.startsWith("file:") ? fileURLToPath(m[1]!) : m[1]!;
  const rel = relative(process.cwd(), file);
  return `${rel.startsWith("..") ? file : rel}:${m[2]}:${m[3]}`;
}
