import type { Sandbox, SandboxOptions } from "./sandbox.js";

/** No isolation: a plain child process (where bubblewrap is missing, e.g. macOS). */
export class NoSandbox implements Sandbox {
  readonly name = "none" as const;

  command(argv: string[], _o: SandboxOptions): { file: string; args: string[] } {
    return { file: argv[0]!, args: argv.slice(1) };
  }

  workdir(hostWorkdir: string): string {
    return hostWorkdir;
  }

  socketPath(hostSocket: string): string {
    return hostSocket;
  }

  /** It hides nothing (a plain process sees the whole host). */
  hides(): boolean {
    return false;
  }
}
