import type { ServerResponse } from "node:http";

/**
 * The gateway's one error type: an HTTP status, a stable code (the same codes as the
 * WebSocket API) and a message that says what to do. Anything else thrown is a logged 500.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Writes `{ "error": { code, message, request_id? } }` unless the response already started. */
export function sendError(
  res: ServerResponse,
  err: HttpError,
  extra: Record<string, string> = {},
  requestId?: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A final newline: curl users get their prompt back on a line of its own.
  const body = `${JSON.stringify({
    error: { code: err.code, message: err.message, ...(requestId ? { request_id: requestId } : {}) },
  })}\n`;
  res.writeHead(err.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...(requestId ? { "skiff-request-id": requestId } : {}),
    ...extra,
    ...err.headers,
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  extra: Record<string, string> = {},
): void {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}
