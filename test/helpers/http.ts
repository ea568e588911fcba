import { request } from "node:http";
import type { LookupFunction } from "node:net";

/** Names under `localhost` go to loopback, as browsers and curl do (Node's resolver does not). */
const lookup: LookupFunction = (hostname, options, cb) => {
  if (hostname === "localhost" || hostname.endsWith(".localhost")) {
    if ((options as { all?: boolean }).all)
      (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]);
    else cb(null, "127.0.0.1", 4);
    return;
  }
  import("node:dns").then((dns) => dns.lookup(hostname, options, cb));
};

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): unknown;
  /** Each chunk of the body with the time it arrived (ms since the request started). */
  chunks: { at: number; text: string }[];
}

/** One HTTP request (no redirects followed), with the body chunks as they arrived. */
export function http(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Uint8Array | AsyncIterable<Uint8Array>;
  } = {},
): Promise<HttpResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers ?? {}, lookup }, (res) => {
      const chunks: { at: number; text: string }[] = [];
      res.setEncoding("utf8");
      res.on("data", (d: string) => chunks.push({ at: performance.now() - started, text: d }));
      res.on("end", () => {
        const body = chunks.map((c) => c.text).join("");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body), chunks });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    const b = opts.body;
    if (b === undefined) req.end();
    else if (typeof b === "string" || b instanceof Uint8Array) req.end(b);
    else
      (async () => {
        for await (const c of b) if (!req.write(c)) await new Promise((r) => req.once("drain", r));
        req.end();
      })().catch(reject);
  });
}
