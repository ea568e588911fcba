/** A mistake in how the command was used: printed as one line with usage help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
