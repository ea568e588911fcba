/** A mistake in how the command was used: printed as one line with usage help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Ends the command with this exit code and no message (a remote command's own status). */
export class ExitWith extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = "ExitWith";
  }
}
