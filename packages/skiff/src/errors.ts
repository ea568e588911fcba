import type { ErrorCode } from "@skiff/protocol";

/** Base of every error Skiff itself raises. Check with `instanceof`, not `name`. */
export class SkiffError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SkiffError";
  }
}

/** Bad input from the caller: an option, an argument, a name. Nothing was sent. */
export class InvalidError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InvalidError";
  }
}

/** No such app, function, call, secret or object. */
export class NotFoundError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "NotFoundError";
  }
}

/** The token is missing, wrong, or not allowed to do this. */
export class AuthError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

/** The control plane cannot be reached, or the connection broke and could not be resumed. */
export class ConnectionError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/** A wait ran out (`get({ timeoutMs })`). */
export class TimeoutError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "TimeoutError";
  }
}

/** An input ran past its function's `timeoutMs` (on its last attempt). */
export class FunctionTimeoutError extends TimeoutError {
  constructor(message: string) {
    super(message);
    this.name = "FunctionTimeoutError";
  }
}

/** The call was cancelled before it produced a result. */
export class FunctionCancelledError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "FunctionCancelledError";
  }
}

/** The result of a spawned call is past its retention and was deleted. */
export class OutputExpiredError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "OutputExpiredError";
  }
}

/** A container failed to start the function: module load or `@enter` threw. */
export class InitError extends SkiffError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InitError";
  }
}

/** The container running the input stopped (it exited, or was replaced). */
export class ContainerTerminatedError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "ContainerTerminatedError";
  }
}

/** A feature named in the API that this version does not provide yet. */
export class NotSupportedError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "NotSupportedError";
  }
}

/** The peer broke the wire protocol. */
export class RemoteProtocolError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "RemoteProtocolError";
  }
}

/** Internal error in the control plane. */
export class InternalError extends SkiffError {
  constructor(message: string) {
    super(message);
    this.name = "InternalError";
  }
}

/**
 * A failed input, yielded (not thrown) under `returnExceptions`. Its `cause` is the error
 * the function threw, so a returned Error value and a thrown one stay distinguishable.
 */
export class UserCodeError extends SkiffError {
  constructor(cause: Error) {
    super(`function raised ${cause.name}: ${cause.message}`, { cause });
    this.name = "UserCodeError";
  }
}

/** The one place a wire error code becomes an error class. */
export function errorFromWire(code: ErrorCode, message: string): SkiffError {
  switch (code) {
    case "invalid_argument":
    case "already_exists":
    case "failed_precondition":
      return new InvalidError(message);
    case "not_found":
      return new NotFoundError(message);
    case "unauthenticated":
    case "permission_denied":
      return new AuthError(message);
    case "timeout":
      return new TimeoutError(message);
    case "cancelled":
      return new FunctionCancelledError(message);
    case "expired":
      return new OutputExpiredError(message);
    case "unsupported":
      return new NotSupportedError(message);
    case "protocol":
      return new RemoteProtocolError(message);
    case "unavailable":
      return new ConnectionError(message);
    default:
      return new InternalError(message);
  }
}
