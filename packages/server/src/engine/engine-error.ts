/**
 * What the engine refuses, and why. The engine throws only this; each edge maps it to its own
 * answer (api/api-error.ts `knownError`: a wire error for a client, an HTTP status for the
 * gateway), so the core does not import the API layer's types.
 */
export type EngineErrorKind = "not_found" | "invalid_argument" | "failed_precondition" | "unavailable" | "internal";

export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "EngineError";
  }
}

export const notFound = (message: string) => new EngineError("not_found", message);
export const invalid = (message: string) => new EngineError("invalid_argument", message);
