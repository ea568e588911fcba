import { WEB_CHUNK_BYTES, type WebResponseHead } from "@skiff/protocol";

/** What a web call yields: the head first, then body chunks. */
export type WebItem = WebResponseHead | Uint8Array;

/** Cuts a chunk into items of at most WEB_CHUNK_BYTES (the window is counted in items). */
export function* slices(chunk: Uint8Array): Generator<Uint8Array> {
  if (chunk.byteLength <= WEB_CHUNK_BYTES) {
    if (chunk.byteLength > 0) yield chunk;
    return;
  }
  for (let i = 0; i < chunk.byteLength; i += WEB_CHUNK_BYTES) yield chunk.subarray(i, i + WEB_CHUNK_BYTES);
}

export function headerPairs(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of h) if (k !== "set-cookie") out.push([k, v]);
  for (const c of h.getSetCookie()) out.push(["set-cookie", c]);
  return out;
}

/** A Fetch Response as web items; the body streams as the handler produces it. */
export async function* responseItems(res: Response): AsyncGenerator<WebItem> {
  const headers = headerPairs(res.headers);
  if (!res.body) {
    yield { status: res.status, headers, end: true };
    return;
  }
  yield { status: res.status, headers };
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield* slices(value);
    }
  } finally {
    // Stopped early (client gone, cancelled): let the handler's stream know.
    reader.cancel().catch(() => {});
  }
}

const encoder = new TextEncoder();

/** A whole JSON response in one item. */
export function jsonItem(status: number, value: unknown, extra: [string, string][] = []): WebResponseHead {
  const body = encoder.encode(JSON.stringify(value));
  return {
    status,
    headers: [["content-type", "application/json; charset=utf-8"], ...extra],
    body,
    end: true,
  };
}

/** The public answer to a handler that threw: no stack, a request id to find it in the logs. */
export function internalErrorItem(requestId: string): WebResponseHead {
  return jsonItem(500, {
    error: {
      code: "internal",
      message: `the endpoint failed; see the app's logs for request ${requestId}`,
      request_id: requestId,
    },
  });
}
