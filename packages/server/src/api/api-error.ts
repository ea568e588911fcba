import type { ErrorCode } from "@skiff/protocol";

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
