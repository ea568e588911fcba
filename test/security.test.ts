// The security suite: each test is an attack from issue 15 that broke the control plane, run
// against the real server, with what must hold instead (docs/security.md).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BLOB_PART_BYTES, encodeFrame, type Message } from "@skiff/protocol";
import { hostAddresses } from "@skiff/worker";
import { Client, Function_, getBlob, putBlob } from "skiff";
import WebSocket from "ws";
import { REPO, type ServerProcess, scratchDir, skiff, startServer, waitFor, writeApp } from "./helpers/cli.js";
import { http } from "./helpers/http.js";
import { type FakeInternet, startFakeInternet } from "./helpers/netns.js";
import { rssKiB } from "./helpers/procs.js";
import { closedWith, helloFrame, nextMessages, openWs, stopReading } from "./helpers/wire.js";

const MiB = 1024 * 1024;

describe("security: bounded per connection", () => {
  let server: ServerProcess;
  const STALL_MS = 3000;
  before(async () => {
    server = await startServer({ args: ["--stalled-connection-ms", String(STALL_MS)] });
  });
  after(() => server.stop());

  it("a client that stops reading and asks for a 60 MB blob twelve times holds under 300 MiB, and is cut off", async () => {
    const client = server.client();
    const SIZE = 60 * 1000 * 1000;
    const blobId = await putBlob(client, new Uint8Array(SIZE).fill(7));
    // A reading client gets the blob whole (in parts of BLOB_PART_BYTES).
    const data = await getBlob(client, blobId);
    assert.equal(data.byteLength, SIZE);
    assert.equal(data[12_345_678], 7);
    client.close();
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssKiB(server.proc.pid!);

    const ws = await openWs(server.url);
    const closed = closedWith(ws);
    ws.send(helloFrame(server.tokenId, server.tokenSecret));
    await nextMessages(ws);
    stopReading(ws);
    // Every part of the blob, twelve times over (720 MB asked for), none of it read.
    const parts = Math.ceil(SIZE / BLOB_PART_BYTES);
    ws.send(
      encodeFrame(
        Array.from(
          { length: 12 * parts },
          (_, i) =>
            ({
              t: "blob.get",
              id: 10 + i,
              p: { blobId, offset: (i % parts) * BLOB_PART_BYTES, length: BLOB_PART_BYTES },
            }) as Message,
        ),
      ),
    );
    let peak = 0;
    const deadline = Date.now() + 6 * STALL_MS;
    // Cut off as its queue passes the cap (or, below it, once it takes nothing for STALL_MS).
    const cut = () => /closing a connection: (\d+ bytes are queued|the peer took none)/.test(server.output());
    while (!cut()) {
      peak = Math.max(peak, rssKiB(server.proc.pid!));
      assert.ok(peak - idle < 300 * 1024, `server grew by ${Math.round((peak - idle) / 1024)} MiB`);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(Date.now() < deadline, "the stalled connection was not cut off");
    }
    ws.terminate();
    await closed;
    // What was held for it is released with the connection.
    const after = await waitFor(
      async () => {
        const now = rssKiB(server.proc.pid!);
        return now - idle < 100 * 1024 && now;
      },
      "the server's memory to come back",
      20_000,
    );
    console.log(
      `ℹ idle ${Math.round(idle / 1024)} MiB, peak ${Math.round(peak / 1024)} MiB, after ${Math.round(after / 1024)} MiB`,
    );
  });

  it("a connection queued past its byte cap is closed with the reason as it is queued", async () => {
    const small = await startServer({ args: ["--max-queued-bytes", String(8 * MiB)] });
    try {
      const ws = await openWs(small.url);
      const closed = closedWith(ws);
      ws.send(helloFrame(small.tokenId, small.tokenSecret));
      await nextMessages(ws);
      stopReading(ws);
      // Each error reply quotes the 10 kB request name: 2000 of them, never read, are ~20 MB.
      const name = "x".repeat(10_000);
      ws.send(encodeFrame(Array.from({ length: 2000 }, (_, i) => ({ t: name, id: 10 + i, p: {} }) as Message)));
      await waitFor(
        async () => /closing a connection: \d+ bytes are queued/.test(small.output()),
        "the cap to cut it",
        15_000,
      );
      ws.terminate();
      await closed;
      assert.ok(Array.isArray((await small.client().request("app.list", { environment: "main" })).apps));
    } finally {
      await small.stop();
    }
  });
});

/** Runs test/fixtures/flood.mjs; its last counters line is kept. */
function startFlood(port: number, mode: "ws" | "slowloris", count: number, first: number, perAddress: number) {
  const child = spawn(process.execPath, [FLOOD, String(port), mode, String(count), String(first), String(perAddress)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let last = { opened: 0, closed: 0, open: 0, failed: 0 };
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    const line = d.trim().split("\n").pop();
    if (line) last = JSON.parse(line);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    stats: () => last,
    async stop() {
      child.stdin.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      child.kill("SIGKILL");
      await exited;
    },
  };
}

const FLOOD = join(REPO, "test/fixtures/flood.mjs");
const FLOOD_WS = Number(process.env.SKIFF_FLOOD_CONNECTIONS ?? 3000);
/** The caps lifted (set SKIFF_FLOOD_UNBOUNDED=1 to watch this test fail without them). */
const UNBOUNDED = [
  "--max-per-address",
  "1000000",
  "--max-unauthenticated",
  "1000000",
  "--hello-timeout-ms",
  "600000",
  "--headers-timeout-ms",
  "300000",
];

describe("security: bounded connections", () => {
  let server: ServerProcess;
  let port: number;
  before(async () => {
    server = await startServer({
      args: [
        "--max-per-address",
        "200",
        "--max-unauthenticated",
        "1000",
        "--hello-timeout-ms",
        "2000",
        "--headers-timeout-ms",
        "3000",
        ...(process.env.SKIFF_FLOOD_UNBOUNDED ? UNBOUNDED : []),
      ],
      // A limit the flood would exhaust without the caps (4096: about 3000 sockets for clients).
      maxOpenFiles: 4096,
    });
    port = Number(new URL(server.url).port);
    const dir = scratchDir("flood");
    writeApp(
      dir,
      "app.ts",
      `import { App } from "skiff";
export const app = new App("flood-app");
export const ping = app.webEndpoint({ method: "GET" }, () => ({ pong: true }));
export const square = app.function((x: number) => x * x);
`,
    );
    const d = await skiff(["deploy", join(dir, "app.ts")], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
  });
  after(() => server.stop());

  it(`${FLOOD_WS} idle unauthenticated WebSockets and slowloris requests from 127.0.0.2+ leave /healthz, a web endpoint and real clients answering`, async () => {
    const client = server.client(); // connected before the flood
    const square = await Function_.lookup<Function_<(x: number) => number>>("flood-app", "square", { client });
    assert.equal(await square.remote(3), 9);
    // 200 per address: the per-address cap refuses the rest of each address's share.
    const ws = startFlood(port, "ws", FLOOD_WS, 2, 250);
    const slow = startFlood(port, "slowloris", 600, 100, 250);
    const fds = () => readdirSync(`/proc/${server.proc.pid}/fd`).length;
    let maxFds = 0;
    try {
      await waitFor(async () => ws.stats().opened >= FLOOD_WS / 2, "the flood to open", 60_000);
      const until = Date.now() + 12_000;
      let rounds = 0;
      while (Date.now() < until || rounds < 3) {
        maxFds = Math.max(maxFds, fds());
        const health = await http(`${server.url}/healthz`);
        assert.equal(health.status, 200);
        const web = await http(`http://flood-app--ping.localhost:${port}/`);
        assert.equal(web.status, 200, web.body);
        assert.deepEqual(web.json(), { pong: true });
        assert.equal(await square.remote(rounds), rounds * rounds);
        // A new client connects, says hello and calls while the flood goes on.
        const fresh = server.client();
        assert.ok(Array.isArray((await fresh.request("app.list", { environment: "main" })).apps));
        fresh.close();
        rounds++;
      }
      const out = server.output();
      const refused = [...out.matchAll(/refused (\d+) \(over --max-per-address/g)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
      const evicted = [...out.matchAll(/closed (\d+) oldest unauthenticated/g)].reduce((n, m) => n + Number(m[1]), 0);
      assert.ok(refused > 0, "the per-address cap refused connections");
      assert.ok(evicted > 0 || /no hello within 2000 ms/.test(out), "idle unauthenticated sockets were closed");
      assert.ok(ws.stats().closed > 0 && slow.stats().closed > 0, JSON.stringify([ws.stats(), slow.stats()]));
      console.log(
        `ℹ flood: ws ${JSON.stringify(ws.stats())}, slowloris ${JSON.stringify(slow.stats())}; ` +
          `refused ${refused}, aged out ${evicted}; server fds at most ${maxFds}; ${rounds} rounds of real traffic`,
      );
      assert.ok(maxFds < 3072 + 200, `server held ${maxFds} descriptors`);
    } finally {
      await ws.stop();
      await slow.stop();
    }
  });
});

describe("security: hello deadline and the API connection cap", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ args: ["--max-api-connections", "2", "--hello-timeout-ms", "1000"] });
  });
  after(() => server.stop());

  it("a WebSocket that never says hello is closed at the deadline, with the reason", async () => {
    const ws = await openWs(server.url);
    const started = Date.now();
    const { code, reason } = await closedWith(ws);
    assert.equal(code, 1008);
    assert.match(reason, /no hello within 1000 ms/);
    assert.ok(Date.now() - started < 5000);
  });

  it("past --max-api-connections a hello is refused (unavailable, 1013) until one closes", async () => {
    const held = [await openWs(server.url), await openWs(server.url)];
    for (const ws of held) {
      ws.send(helloFrame(server.tokenId, server.tokenSecret));
      assert.equal((await nextMessages(ws))[0]!.ok, true);
    }
    const third = await openWs(server.url);
    const closed = closedWith(third);
    third.send(helloFrame(server.tokenId, server.tokenSecret));
    const [reply] = (await nextMessages(third)) as unknown as {
      ok: boolean;
      error: { code: string; message: string };
    }[];
    assert.equal(reply!.ok, false);
    assert.equal(reply!.error.code, "unavailable");
    assert.match(reply!.error.message, /--max-api-connections/);
    assert.equal((await closed).code, 1013);
    held[0]!.close();
    await closedWith(held[0]!);
    const again = await openWs(server.url);
    again.send(helloFrame(server.tokenId, server.tokenSecret));
    assert.equal((await nextMessages(again))[0]!.ok, true);
    again.close();
    held[1]!.close();
  });
});

/** A web endpoint's WebSocket (`<app>--<label>.localhost` is loopback); rejects with the status. */
function openWebSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const lookup = (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
      o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4);
    const ws = new WebSocket(url, { lookup } as never);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once("message", (d) => resolve(String(d)));
    ws.send(text);
  });
}

describe("security: web endpoints' WebSockets have a cap of their own", () => {
  let server: ServerProcess;
  let port: number;
  before(async () => {
    server = await startServer({ args: ["--max-web-sockets", "2"] });
    port = Number(new URL(server.url).port);
    const dir = scratchDir("wscap");
    writeApp(
      dir,
      "app.ts",
      `import { createServer } from "node:http";
import { App } from "skiff";
import { WebSocketServer } from "ws";
export const app = new App("wscap");
export const echo = app.nodeHttpApp({ label: "echo", timeoutMs: 60_000, concurrency: { maxInputs: 8 } }, () => {
  const server = createServer((_req, res) => res.end("plain"));
  new WebSocketServer({ server }).on("connection", (ws) => ws.on("message", (m) => ws.send(String(m))));
  return server;
});
`,
    );
    const d = await skiff(["deploy", join(dir, "app.ts")], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
  });
  after(() => server.stop());

  it("past --max-web-sockets one is refused (503) while HTTP, API clients and open sockets go on; a close makes room", async () => {
    const url = `ws://wscap--echo.localhost:${port}/`;
    const held = [await openWebSocket(url), await openWebSocket(url)];
    assert.equal(await echo(held[0]!, "a"), "a");
    await assert.rejects(openWebSocket(url), /status 503/);
    // The same endpoint over HTTP, an API client and the open sockets are not affected.
    const plain = await http(`http://wscap--echo.localhost:${port}/`);
    assert.equal(plain.status, 200);
    assert.equal(plain.body, "plain");
    const client = server.client();
    assert.ok(Array.isArray((await client.request("app.list", { environment: "main" })).apps));
    client.close();
    assert.equal(await echo(held[1]!, "b"), "b");
    await waitFor(
      async () => /1 web WebSockets \(over --max-web-sockets\)/.test(server.output()),
      "the refusal logged",
    );
    // One closes: a new one is let in.
    held[0]!.close();
    const again = await waitFor(() => openWebSocket(url).catch(() => undefined), "room for a WebSocket", 10_000);
    assert.equal(await echo(again, "c"), "c");
    again.close();
    held[1]!.close();
  });
});

describe("security: container identity and view", () => {
  let server: ServerProcess;
  let probe: Function_<(what: string, arg: string) => Promise<string>>;
  const operatorLog = join(REPO, "tmp", `operator-server-${process.pid}.log`);
  before(async () => {
    server = await startServer({ args: ["--sandbox", "bubblewrap"] });
    // An operator's server log in the project directory, holding the admin token.
    writeFileSync(operatorLog, `SKIFF_TOKEN_SECRET=${server.tokenSecret}\n`);
    const dir = scratchDir("identity");
    writeApp(
      dir,
      "app.ts",
      `import { App } from "skiff";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
export const app = new App("identity-app");
export const probe = app.function((what: string, arg: string) => {
  try {
    if (what === "uid") return \`\${process.getuid!()}:\${process.getgid!()}\`;
    if (what === "caps")
      return readFileSync("/proc/self/status", "utf8").split("\\n").filter((l) => /^(Cap|NoNewPrivs)/.test(l)).join(";");
    if (what === "read") return readFileSync(arg, "utf8");
    if (what === "ls") return readdirSync(arg).join(",");
    if (what === "fill") {
      const mib = Buffer.alloc(1024 * 1024, 1);
      for (let i = 0; i < Number(arg); i++) writeFileSync("/tmp/fill", mib, { flag: "a" });
      return "filled";
    }
    return "?";
  } catch (err) {
    return \`error: \${(err as NodeJS.ErrnoException).code}\`;
  }
});
`,
    );
    const d = await skiff(["deploy", join(dir, "app.ts")], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    probe = Function_.fromName("identity-app", "probe", { client: server.client() });
  });
  after(async () => {
    rmSync(operatorLog, { force: true });
    await server?.stop();
  });

  it("runs as an unprivileged user, not the server's", async () => {
    const [uid] = (await probe.remote("uid", "")).split(":");
    if (process.getuid!() === 0) assert.equal(uid, "65534", "a root server runs containers as nobody");
    else assert.equal(uid, String(process.getuid!()), "NOT CHECKED: a non-root server cannot change users");
    // No capability left in any set (setpriv cleared the bounding set too), and none to gain.
    const caps = await probe.remote("caps", "");
    for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"])
      assert.match(caps, new RegExp(`${set}:\\s*0{16}(;|$)`), caps);
    assert.match(caps, /NoNewPrivs:\s*1/, caps);
  });

  it("sees the runtime's own read-only directory, and nothing of the project the server runs from", async () => {
    assert.equal(await probe.remote("read", operatorLog), "error: ENOENT");
    assert.equal(await probe.remote("read", join(REPO, "package.json")), "error: ENOENT");
    assert.equal(await probe.remote("ls", REPO), "error: ENOENT");
    // The bundled runtime (scripts/bundle-runtime.mjs): its entry, chunks and the SDK's entry
    // points, and no packages at all (the server's code and its dependencies least of all).
    const files = (await probe.remote("ls", "/opt/skiff-runtime")).split(",");
    assert.ok(files.includes("main.js") && files.includes("skiff"), files.join());
    assert.ok(!files.includes("node_modules"), files.join());
    for (const f of files.filter((x) => x.endsWith(".js"))) {
      const code = await probe.remote("read", `/opt/skiff-runtime/${f}`);
      assert.ok(!/better-sqlite3|CREATE TABLE/.test(code), `${f} holds the server's code`);
    }
  });

  it("/tmp is size-limited: writing past it is ENOSPC, not host memory", async () => {
    assert.equal(await probe.remote("fill", "600"), "error: ENOSPC");
    assert.match(await probe.remote("uid", ""), /^\d+:\d+$/, "the container is still up");
  });
});

/** The NATs installed here (the server prefers slirp4netns; SKIFF_NAT picks one): each is tested. */
const NATS = (["slirp4netns", "pasta"] as const).filter((n) =>
  [`/usr/bin/${n}`, `/usr/sbin/${n}`].some((p) => existsSync(p)),
);

for (const natKind of NATS.length > 0 ? NATS : (["none installed"] as const))
  describe(`security: container network (NAT: ${natKind})`, () => {
    let server: ServerProcess;
    let inet: FakeInternet;
    let hostService: Server;
    let hostPort: number;
    let net: Function_<(op: string, host: string, port: number) => Promise<string>>;
    let blocked: Function_<(op: string, host: string, port: number) => Promise<string>>;
    /** 10 MB here; `npm run chaos` downloads 100 MB (SKIFF_NAT_BYTES). */
    const BIG = Number(process.env.SKIFF_NAT_BYTES ?? 10_000_000);
    const root = process.getuid!() === 0;

    before(async () => {
      if (!root) return;
      inet = await startFakeInternet(BIG);
      // A service on the host's end of that link, and the control plane itself, must stay out of reach.
      hostService = createServer((_q, r) => r.end("host-secret"));
      await new Promise<void>((r) => hostService.listen(0, "0.0.0.0", r));
      hostPort = (hostService.address() as { port: number }).port;
      server = await startServer({
        args: ["--sandbox", "bubblewrap"],
        serverEnv: natKind === "none installed" ? {} : { SKIFF_NAT: natKind },
      });
      const dir = scratchDir("network");
      writeApp(
        dir,
        "app.ts",
        `import { App } from "skiff";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
export const app = new App("net-app");
/** The default route's gateway (the NAT's end of the link), from /proc/net/route. */
function gateway(): string {
  const row = readFileSync("/proc/net/route", "utf8").split("\\n").map((l) => l.split("\\t")).find((c) => c[1] === "00000000");
  const hex = row?.[2] ?? "00000000";
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join(".");
}
async function probe(op: string, host: string, port: number): Promise<string> {
  if (host === "gateway") host = gateway();
  if (op === "get" || op === "big") {
    try {
      const started = performance.now();
      const r = await fetch(\`http://\${host}:\${port}/\${op === "big" ? "big" : ""}\`);
      const body = new Uint8Array(await r.arrayBuffer());
      return op === "big" ? \`\${body.byteLength} \${Math.round(performance.now() - started)}\` : new TextDecoder().decode(body);
    } catch (err) {
      return \`error: \${((err as Error).cause as NodeJS.ErrnoException)?.code ?? (err as Error).message}\`;
    }
  }
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const t = setTimeout(() => { s.destroy(); resolve("error: timeout"); }, 5000);
    s.on("connect", () => { clearTimeout(t); s.destroy(); resolve("connected"); });
    s.on("error", (e: NodeJS.ErrnoException) => { clearTimeout(t); resolve(\`error: \${e.code}\`); });
  });
}
export const net = app.function(probe);
export const blocked = app.function({ blockNetwork: true }, async (op: string, host: string, port: number) =>
  op === "via" ? net.remote("get", host, port) : probe(op, host, port),
);
`,
      );
      const d = await skiff(["deploy", join(dir, "app.ts")], { env: server.env });
      assert.equal(d.code, 0, d.stderr);
      const client = server.client();
      net = Function_.fromName("net-app", "net", { client });
      blocked = Function_.fromName("net-app", "blocked", { client });
    });
    after(async () => {
      await server?.stop();
      hostService?.close();
      await inet?.stop();
    });

    it("reaches the outside (a server in a namespace the test made) through NAT", async (t) => {
      if (!root) return t.skip("NOT CHECKED: outbound NAT (pasta) needs a server running as root");
      assert.equal(await net.remote("get", inet.address, inet.port), "inet-ok");
    });

    it("reaches no address of the host: loopback services, the control plane's port, other interfaces", async (t) => {
      if (!root) return t.skip("NOT CHECKED: needs root");
      const apiPort = Number(new URL(server.url).port);
      for (const [host, port] of [
        ["127.0.0.1", apiPort],
        ["127.0.0.1", hostPort],
        [inet.hostAddress, hostPort],
        [inet.hostAddress, apiPort],
        // The NAT's own address: slirp4netns maps it to the host's loopback unless told not to.
        ["gateway", hostPort],
        ["gateway", apiPort],
        ...hostAddresses().map((a) => [a, hostPort] as [string, number]),
      ] as [string, number][]) {
        const r = await net.remote("connect", host, port);
        // pasta's gateway is the host's router's address (not mapped to the host): no answer there.
        const refused = host === "gateway" ? /^error: / : /^error: (ECONNREFUSED|EACCES|ENETUNREACH|EHOSTUNREACH)$/;
        assert.match(r, refused, `${host}:${port} gave ${r}`);
      }
    });

    it("blockNetwork has no network at all; it may call a function that has (and that one reaches no host address either)", async (t) => {
      if (!root) return t.skip("NOT CHECKED: needs root");
      assert.match(await blocked.remote("connect", inet.address, inet.port), /^error: (ENETUNREACH|EACCES)$/);
      assert.match(await blocked.remote("connect", "127.0.0.1", hostPort), /^error: ECONNREFUSED$/);
      // Decided (docs/security.md): calls go through the control plane, as any caller's would.
      assert.equal(await blocked.remote("via", inet.address, inet.port), "inet-ok");
      assert.match(await blocked.remote("via", "127.0.0.1", hostPort), /^error: ECONNREFUSED$/);
    });

    it("downloads through the NAT (throughput beside the host's own)", async (t) => {
      if (!root) return t.skip("NOT CHECKED: needs root");
      const [bytes, ms] = (await net.remote("big", inet.address, inet.port)).split(" ").map(Number);
      assert.equal(bytes, BIG);
      const started = performance.now();
      const host = new Uint8Array(await (await fetch(`http://${inet.address}:${inet.port}/big`)).arrayBuffer());
      const hostMs = performance.now() - started;
      assert.equal(host.byteLength, BIG);
      const mbps = (b: number, m: number) => Math.round(b / 1e6 / (m / 1000));
      console.log(
        `ℹ ${BIG / 1e6} MB download: container through ${natKind} ${mbps(BIG, ms!)} MB/s (${ms} ms), host ${mbps(BIG, hostMs)} MB/s (${Math.round(hostMs)} ms), ratio ${(mbps(BIG, ms!) / mbps(BIG, hostMs)).toFixed(2)}`,
      );
    });

    it("a server killed with -9 leaves NAT processes and namespaces that the next server's start removes", async (t) => {
      if (!root) return t.skip("NOT CHECKED: needs root");
      const pid = server.proc.pid!;
      // The spares (and the containers' namespaces) are up by now: the calls above waited on them.
      await waitFor(() => Promise.resolve(natLeftBy(pid).processes.length > 0), "a NAT process of the server", 10_000);
      await server.kill();
      assert.ok(natLeftBy(pid).processes.length > 0, "NAT processes outlive a kill -9 (what the sweep is for)");
      const next = await startServer({
        args: ["--sandbox", "bubblewrap"],
        serverEnv: natKind === "none installed" ? {} : { SKIFF_NAT: natKind },
      });
      try {
        await waitFor(
          () => Promise.resolve(JSON.stringify(natLeftBy(pid)) === JSON.stringify({ processes: [], namespaces: [] })),
          "the next server to remove the dead one's NAT processes and namespaces",
          10_000,
        );
      } finally {
        await next.stop();
      }
    });
  });

/** NAT processes (pasta, slirp4netns) and named namespaces of server `pid` (`skiff-<pid>-<n>`). */
function natLeftBy(pid: number): { processes: number[]; namespaces: string[] } {
  const mine = new RegExp(`skiff-${pid}-\\d+$`);
  const processes = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
        return /(pasta|slirp4netns)$/.test(argv[0] ?? "") && argv.some((a) => mine.test(a));
      } catch {
        return false;
      }
    })
    .map(Number);
  let namespaces: string[] = [];
  try {
    namespaces = readdirSync("/run/netns").filter((n) => mine.test(n));
  } catch {}
  return { processes, namespaces };
}

describe("security: token expiry and revocation", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
    assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
  });
  after(() => server.stop());

  const clientFor = (t: { tokenId: string; tokenSecret: string }) =>
    new Client({ serverUrl: server.url, tokenId: t.tokenId, tokenSecret: t.tokenSecret, environment: "main" });

  it("an expiring token works until then; its connection is closed at expiry and it is refused after", async () => {
    const admin = server.client();
    const t = await admin.request("token.create", { kind: "api", expiresInMs: 2000 });
    const c = clientFor(t);
    assert.ok(Array.isArray((await c.request("app.list", { environment: "main" })).apps));
    await new Promise((r) => setTimeout(r, 2500));
    await assert.rejects(c.request("app.list", { environment: "main" }), (e: Error) => {
      assert.equal(e.name, "AuthError");
      assert.match(e.message, new RegExp(`token ${t.tokenId} expired`));
      return true;
    });
    c.close();
    const again = clientFor(t);
    await assert.rejects(again.request("app.list", { environment: "main" }), /expired at/);
    again.close();
  });

  it("skiff token revoke: a map in progress with that token fails clearly, others go on; token list shows it", async () => {
    const admin = server.client();
    const t = await admin.request("token.create", { kind: "api" });
    const c = clientFor(t);
    const sleeper = await Function_.lookup<Function_<(ms: number) => Promise<number>>>("core-app", "sleeper", {
      client: c,
    });
    const results: unknown[] = [];
    const mapping = (async () => {
      for await (const r of sleeper.map(Array.from({ length: 400 }, () => 50))) results.push(r);
    })();
    mapping.catch(() => {}); // asserted below
    await waitFor(async () => results.length >= 5, "the map to start");
    const r = await skiff(["token", "revoke", t.tokenId], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(mapping, (e: Error) => {
      assert.match(e.message, new RegExp(`token ${t.tokenId} was revoked`));
      assert.equal((e.cause as Error | undefined)?.name ?? e.name, "AuthError");
      return true;
    });
    assert.ok(results.length < 400);
    // The admin's own connection and calls go on.
    const square = await Function_.lookup<Function_<(x: number) => Promise<number>>>("core-app", "square", {
      client: admin,
    });
    assert.equal(await square.remote(12), 144);
    const list = await skiff(["token", "list"], { env: server.env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${t.tokenId}\\s+api\\s+.*revoked`));
    assert.doesNotMatch(list.stdout, /ts-/, "no secret is listed");
    const fresh = clientFor(t);
    await assert.rejects(fresh.request("app.list", { environment: "main" }), /was revoked/);
    fresh.close();
    c.close();
  });

  it("token new --expires-in takes 30d/12h/45m/90s and refuses anything else", async () => {
    const bad = await skiff(["token", "new", "--web", "--expires-in", "soon"], { env: server.env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--expires-in must look like 30d/);
    const ok = await skiff(["token", "new", "--web", "--expires-in", "30d"], { env: server.env });
    assert.equal(ok.code, 0, ok.stderr);
    const id = /token id:\s+(\S+)/.exec(ok.stdout)?.[1];
    const { tokens } = await server.client().request("token.list", {});
    const row = tokens.find((x) => x.tokenId === id)!;
    assert.ok(Math.abs(row.expiresAt! - row.createdAt - 30 * 86_400_000) < 60_000);
  });
});

/** A CA and a certificate for 127.0.0.1 it signed, made by openssl in `dir`. */
function makeCerts(dir: string): { ca: string; cert: string; key: string; otherCa: string } {
  const sh = (cmd: string) => execFileSync("bash", ["-c", cmd], { cwd: dir, stdio: "pipe" });
  const ca = (name: string) =>
    sh(`openssl req -x509 -newkey rsa:2048 -nodes -keyout ${name}.key -out ${name}.pem -days 1 -subj /CN=${name}`);
  ca("skiff-test-ca");
  ca("other-ca");
  sh("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1");
  sh(
    "openssl x509 -req -in server.csr -CA skiff-test-ca.pem -CAkey skiff-test-ca.key -CAcreateserial " +
      "-out server.pem -days 1 -extfile <(printf 'subjectAltName=IP:127.0.0.1')",
  );
  return {
    ca: join(dir, "skiff-test-ca.pem"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
    otherCa: join(dir, "other-ca.pem"),
  };
}

describe("security: TLS", () => {
  let server: ServerProcess;
  let certs: ReturnType<typeof makeCerts>;
  before(async () => {
    certs = makeCerts(scratchDir("tls"));
    server = await startServer({ args: ["--tls-cert", certs.cert, "--tls-key", certs.key] });
  });
  after(() => server?.stop());

  const clientWith = (caFile?: string) =>
    new Client({
      serverUrl: server.url,
      tokenId: server.tokenId,
      tokenSecret: server.tokenSecret,
      environment: "main",
      ...(caFile ? { caFile } : {}),
    });

  it("serves the API, health and the CLI over HTTPS/WSS, verified against the CA given (SKIFF_CA_FILE)", async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const c = clientWith(certs.ca);
    assert.ok(Array.isArray((await c.request("app.list", { environment: "main" })).apps));
    c.close();
    const health = execFileSync("curl", ["-sS", "--cacert", certs.ca, `${server.url}/healthz`], { encoding: "utf8" });
    assert.equal(health, '{"ok":true}');
    const r = await skiff(["deploy", "test/fixtures/core-app.ts"], {
      env: { ...server.env, SKIFF_CA_FILE: certs.ca },
    });
    assert.equal(r.code, 0, r.stderr);
  });

  it("a client without the CA, or with the wrong one, fails at once with what to do", async () => {
    for (const ca of [undefined, certs.otherCa]) {
      const c = clientWith(ca);
      const started = Date.now();
      await assert.rejects(c.request("app.list", { environment: "main" }), (e: Error) => {
        assert.equal(e.name, "ConnectionError");
        assert.match(e.message, /cannot verify the server's TLS certificate/);
        assert.match(e.message, ca ? /did not sign it/ : /SKIFF_CA_FILE/);
        return true;
      });
      assert.ok(Date.now() - started < 10_000, "no retrying a certificate that cannot verify");
      c.close();
    }
  });

  it("--host 0.0.0.0 without TLS warns; --tls-cert without --tls-key is a usage error", async () => {
    const open = await startServer({ args: ["--host", "0.0.0.0"] });
    try {
      assert.match(open.output(), /warning: listening on 0\.0\.0\.0 without TLS/);
    } finally {
      await open.stop();
    }
    const half = await skiff(["server", "--port", "0", "--tls-cert", certs.cert]);
    assert.equal(half.code, 2, half.stderr);
    assert.match(half.stderr, /--tls-cert and --tls-key go together/);
  });
});
