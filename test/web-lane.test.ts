// The web lane end to end (docs/web.md): a webEndpoint request that finds a free slot goes
// straight to that container, and its whole answer comes back in one `web.answer` message.
// The real CLI deploys test/fixtures/web-lane-app.ts to a real server; plain HTTP requests.
// Each way out of the lane keeps what a user relies on: no free slot (queued, scale-up), a
// timeout (504), a container that dies (the request runs again elsewhere), and the request's
// logs and counts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ServerProcess, skiff, startServer } from "./helpers/cli.js";
import { http } from "./helpers/http.js";

describe("the web lane", () => {
  let server: ServerProcess;
  const url = (label: string, rest = "") => `${server.url}/web/web-lane/${label}${rest}`;
  const metric = async (name: string, fn: string) => {
    const r = await http(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${server.tokenId}:${server.tokenSecret}` },
    });
    assert.equal(r.status, 200, r.body);
    const line = r.body.split("\n").find((l) => l.startsWith(`${name}{app="web-lane",function="${fn}"} `));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };

  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/web-lane-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
  });
  after(() => server?.stop());

  it("concurrent requests each get their own answer; logs name the request; counts are exact", async () => {
    const first = await http(url("ping", "?n=first"));
    assert.equal(first.status, 200, first.body);
    assert.deepEqual({ ...(first.json() as object), pid: "" }, { ok: true, n: "first", pid: "" });
    const requestId = String(first.headers["skiff-request-id"]);
    assert.match(requestId, /^rq-/);
    assert.equal(first.headers["access-control-allow-origin"], "*");
    const accepted = await metric("skiff_inputs_accepted_total", "ping");
    const succeeded = await metric("skiff_inputs_succeeded_total", "ping");
    // More at once than the container's slots: some take the lane, the rest wait for a slot.
    const n = 60;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => http(url("ping", `?n=${i}`))));
    answers.forEach((r, i) => {
      assert.equal(r.status, 200, r.body);
      assert.equal((r.json() as { n: string }).n, String(i), "each request gets its own answer");
    });
    assert.equal(new Set(answers.map((r) => r.headers["skiff-request-id"])).size, n);
    // /metrics reads the engine at most every 250 ms (metrics.ts): past that, the counts are new.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await metric("skiff_inputs_accepted_total", "ping")) - accepted, n);
    assert.equal((await metric("skiff_inputs_succeeded_total", "ping")) - succeeded, n);
    let logs = "";
    for (let i = 0; i < 50 && !logs.includes(`lane ping first for ${requestId}`); i++) {
      logs = (await skiff(["app", "logs", "web-lane"], { env: server.env })).stdout;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(logs.includes(`lane ping first for ${requestId}`), logs);
  });

  it("past the free slots a request waits in the queue and the function scales up for it", async () => {
    // One container up and idle first: the first request then takes the lane to its one slot,
    // and the others find no free slot (they must not be handed to the busy container).
    const warm = await http(url("busy", "?ms=1"));
    assert.equal(warm.status, 200, warm.body);
    const t = Date.now();
    const rs = await Promise.all([1, 2, 3].map(() => http(url("busy", "?ms=800"))));
    for (const r of rs) assert.equal(r.status, 200, r.body);
    const pids = new Set(rs.map((r) => (r.json() as { pid: string }).pid));
    assert.equal(pids.size, 2, "a second container was started for the requests past the first's slot");
    assert.ok(pids.has((warm.json() as { pid: string }).pid), "the idle container took one of them");
    // Two slots for three requests of 800 ms: the third waited for one.
    assert.ok(Date.now() - t >= 1600, `${Date.now() - t} ms`);
  });

  it("a request that never answers is a 504 at its timeoutMs; the container serves the next", async () => {
    const t = Date.now();
    const r = await http(url("hang", "?never=1"));
    assert.equal(r.status, 504, r.body);
    assert.match(r.body, /timed out/);
    const took = Date.now() - t;
    assert.ok(took >= 1100 && took < 10_000, `${took} ms`);
    const next = await http(url("hang"));
    assert.equal(next.status, 200, next.body);
    assert.deepEqual(next.json(), { alive: true });
  });

  it("a container that dies under a request: the request runs again in a new container and is answered", async () => {
    const r = await http(url("crash"));
    assert.equal(r.status, 200, r.body);
    const body = r.json() as { retried: boolean; firstPid: string; pid: string };
    assert.equal(body.retried, true);
    assert.notEqual(body.firstPid, body.pid, "answered by another container");
  });
});
