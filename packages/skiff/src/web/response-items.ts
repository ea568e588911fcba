import { WEB_CHUNK_BYTES, type WebResponseHead, type WebResponseTrailers } from "@skiff/protocol";

/** What a web call yields: the head first, then body chunks, then any trailers. */
export type WebItem = WebResponseHead | Uint8Array | WebResponseTrailers;

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

/** A read that is ready now, or undefined (a stream with more to come later). */
function readNow<T>(p: Promise<T>): Promise<T | undefined> {
  return Promise.race([p, Promise.resolve().then(() => undefined)]);
}

/** A Response body without a type is sent as text, as Node's Fetch adapters send it. */
const DEFAULT_TYPE = "text/plain; charset=UTF-8";

/**
 * A Fetch Response as web items; the body streams as the handler produces it. A body that is
 * whole at once (a string, bytes, a Blob, …) goes as one item, so it gets a Content-Length; one
 * still being produced goes chunked. That is how @hono/node-server tells them apart.
 */
export async function* responseItems(res: Response): AsyncGenerator<WebItem> {
  const headers = headerPairs(res.headers);
  if (!res.body) {
    // No body: the head alone, then the end (chunked, as Node's adapters send it, unless 204/304).
    yield { status: res.status, headers };
    return;
  }
  if (!res.headers.has("content-type")) headers.push(["content-type", DEFAULT_TYPE]);
  const reader = res.body.getReader();
  try {
    const first: Uint8Array[] = [];
    let pending: ReturnType<typeof reader.read> | undefined;
    if (res.headers.get("transfer-encoding") !== "chunked") {
      for (let i = 0, tries = 2; i < tries; i++) {
        pending ??= reader.read();
        const r = await readNow(pending);
        if (!r) {
          if (i === 1) {
            // One more look after the handler's next tick (a body built in a microtask or two).
            await new Promise((resolve) => setTimeout(resolve));
            tries = 3;
            continue;
          }
          break;
        }
        pending = undefined;
        if (r.done) {
          // Whole at once: its length is known (and said even to HEAD, as @hono/node-server does).
          const body = concat(first);
          if (!res.headers.has("content-length")) headers.push(["content-length", String(body.byteLength)]);
          yield* wholeItems({ status: res.status, headers }, body, false);
          return;
        }
        first.push(r.value);
      }
    }
    yield { status: res.status, headers };
    for (const c of first) yield* slices(c);
    for (;;) {
      const { done, value } = await (pending ?? reader.read());
      pending = undefined;
      if (done) return;
      yield* slices(value);
    }
  } finally {
    // Stopped early (client gone, cancelled): let the handler's stream know.
    reader.cancel().catch(() => {});
  }
}

/**
 * A response whose whole body is known: one item when it fits, else the head with the body's
 * Content-Length (added as Node adds it: not for HEAD, 204 or 304) and the body in slices.
 */
export function* wholeItems(head: WebResponseHead, body: Uint8Array, isHead: boolean): Generator<WebItem> {
  if (body.byteLength <= WEB_CHUNK_BYTES) {
    yield { ...head, body, end: true };
    return;
  }
  const known = head.headers.some(([k]) => k.length === 14 && k.toLowerCase() === "content-length");
  if (!known && !isHead && head.status !== 204 && head.status !== 304)
    head.headers.push(["Content-Length", String(body.byteLength)]);
  yield head;
  yield* slices(body);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts);
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
