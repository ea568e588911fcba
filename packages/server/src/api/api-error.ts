import type { ErrorCode } from "@skiff/protocol";
import { EngineError } from "../engine/engine-error.js";
import { StoreCommitError, StoreUnavailableError } from "../store/store.js";

/** The one error type the control plane answers with: a stable code and a message. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const invalid = (message: string) => new ApiError("invalid_argument", message);
export const notFound = (message: string) => new ApiError("not_found", message);

/**
 * An error a caller is told as it is, as the API's own: the API's errors, the engine's refusals,
 * and a failed store commit (`unavailable`: try again). Undefined for anything else, which the
 * edge logs and answers as an internal error.
 */
export function knownError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof EngineError) return new ApiError(err.kind, err.message);
  if (err instanceof StoreCommitError || err instanceof StoreUnavailableError)
    return new ApiError("unavailable", err.message);
  return undefined;
}
