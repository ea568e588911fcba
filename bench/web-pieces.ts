// CPU per web request of the gateway's own pieces, this checkout's build beside another
// checkout's (the baseline, e.g. main), in one process: JS only, no sockets (a ServerResponse
// with no socket keeps its bytes), so the figures hold on a loaded machine where end-to-end
// CPU per request moves by 2x between runs. Old and new alternate every 500 calls.
//   node --import tsx bench/web-pieces.ts <baseline checkout>
// Pieces: route(), the request's CBOR ([wire]) and a whole small response (WebCall.onItems).
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { encodeCbor, type WebRequestWire } from "@skiff/protocol";
import { REPO } from "./lib/skiff-server.js";
import { smallWebRequest } from "./lib/web-request.js";

const baseline = process.argv[2];
if (!baseline) {
  console.error("usage: bench/web-pieces.ts <baseline checkout>");
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const CHUNK = 500;

type Mod = Record<string, unknown>;
const load = (repo: string, file: string): Promise<Mod> =>
  import(pathToFileURL(join(repo, "packages/server/dist/gateway", file)).href) as Promise<Mod>;

interface WebCallLike {
  attach(res: ServerResponse): boolean;
  onItems(items: Uint8Array[], end?: { status: "success"; data: Uint8Array }): void;
}
type WebCallClass = new (...a: unknown[]) => WebCallLike;

const sides = await Promise.all(
  [baseline, REPO].map(async (repo) => {
    const args = await load(repo, "request-args.js").catch(() => ({}) as Mod);
    return {
      WebCall: (await load(repo, "web-call.js")).WebCall as WebCallClass,
      route: (await load(repo, "routes.js")).route as (host: string, url: string) => unknown,
      // A checkout without encodeWebArgs encodes the request with cbor-x.
      encode: (args.encodeWebArgs as ((w: WebRequestWire) => Uint8Array) | undefined) ?? ((w) => encodeCbor([w])),
    };
  }),
);

const item = encodeCbor({
  status: 200,
  headers: [["content-type", "application/json; charset=utf-8"]],
  body: new TextEncoder().encode('{"ok":true}'),
  end: true,
});
const ended = { status: "success" as const, data: new Uint8Array() };
const endpoint = { fn: { appName: "a", name: "f", appId: "ap" }, web: { kind: "endpoint" } };
const host = { ack() {}, cancel() {}, logFailure() {}, uncap() {} };
const req = new IncomingMessage(new Socket());
req.method = "GET";
req.httpVersionMajor = 1;
req.httpVersionMinor = 1;
req.headers = { host: "127.0.0.1:7420" };
const extra = () => ({
  "skiff-request-id": "rq-0123456789abcdef01234567",
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "skiff-request-id, location",
});
const wire = (): WebRequestWire => smallWebRequest("/ping");

const pieces: [string, (s: (typeof sides)[number]) => void][] = [
  ["route()", (s) => s.route("127.0.0.1:7420", "/web/bench-web/ping")],
  ["request CBOR ([wire])", (s) => s.encode(wire())],
  [
    "whole small response (WebCall)",
    (s) => {
      const res = new ServerResponse(req);
      const call = new s.WebCall("fc-1", "rq-1", endpoint, extra(), host);
      call.attach(res);
      call.onItems([item], ended);
      res.emit("close");
    },
  ],
];

console.log(`web-pieces: CPU µs per call, ${ROUNDS} alternating rounds of ${CHUNK}; baseline ${baseline}`);
let sumOld = 0;
let sumNew = 0;
for (const [name, run] of pieces) {
  const [old, mine] = sides as [(typeof sides)[number], (typeof sides)[number]];
  for (let i = 0; i < 2000; i++) {
    run(old);
    run(mine);
  }
  let a = 0;
  let b = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let t = process.cpuUsage();
    for (let i = 0; i < CHUNK; i++) run(old);
    let u = process.cpuUsage(t);
    a += u.user + u.system;
    t = process.cpuUsage();
    for (let i = 0; i < CHUNK; i++) run(mine);
    u = process.cpuUsage(t);
    b += u.user + u.system;
  }
  const n = ROUNDS * CHUNK;
  sumOld += a / n;
  sumNew += b / n;
  console.log(
    `  ${name.padEnd(32)} baseline ${(a / n).toFixed(3)}  this ${(b / n).toFixed(3)}  (${(b / a).toFixed(2)}x)`,
  );
}
console.log(`  together: baseline ${sumOld.toFixed(2)} µs, this ${sumNew.toFixed(2)} µs per request`);
