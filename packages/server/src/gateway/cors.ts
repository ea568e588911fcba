import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * CORS headers of every `webEndpoint` response (303, 202 and errors included). Any origin may
 * call; tokens travel in headers, not cookies, so no credentials mode is needed.
 */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "skiff-request-id, location",
};

/** Answers a CORS preflight for an endpoint that accepts `method`. */
export function preflight(req: IncomingMessage, res: ServerResponse, method: string): void {
  const asked = req.headers["access-control-request-headers"];
  res.writeHead(204, {
    ...CORS_HEADERS,
    "access-control-allow-methods": `${method}, OPTIONS`,
    "access-control-allow-headers":
      typeof asked === "string" && asked ? asked : "content-type, authorization, skiff-token-id, skiff-token-secret",
    "access-control-max-age": "86400",
    "content-length": "0",
  });
  res.end();
}

export function isPreflight(req: IncomingMessage): boolean {
  return req.method === "OPTIONS" && typeof req.headers["access-control-request-method"] === "string";
}
