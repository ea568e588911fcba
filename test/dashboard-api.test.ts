// The dashboard's JSON API, sessions and metrics against a real server: the curl examples of
// docs/dashboard.md, then each bad input of issue 14 (no or bad token, unknown call id,
// nonsense filters, huge log line and argument, page 10 000 000) and the anti-forgery rule.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { CallDetails, CallPage, LogLine, ObjectEntries, ObjectSummary } from "@skiff/protocol";
import { Dict, Queue, Volume } from "skiff";
import { REPO, type ServerProcess, skiff, startServer, waitFor } from "./helpers/cli.js";
import { curlExamples, runExample } from "./helpers/doc-examples.js";
import { http } from "./helpers/http.js";

describe("dashboard JSON API", () => {
  let server: ServerProcess;
  let auth: Record<string, string>;
  const get = (path: string, headers = auth) => http(`${server.url}${path}`, { headers });
  const spawn = async (fn: string, args: unknown[]) => {
    const r = await http(`${server.url}/v1/functions/dash-app/${fn}/spawn`, {
      method: "POST",
      // A fresh connection each: a kept-alive one can be closed by the server's idle timer just
      // as a large body starts (EPIPE on a loaded machine).
      headers: { ...auth, "content-type": "application/json", connection: "close" },
      body: JSON.stringify({ args }),
    });
    assert.equal(r.status, 202, r.body);
    return (r.json() as { call_id: string }).call_id;
  };
  const settle = (id: string) => get(`/v1/calls/${id}?timeout_ms=30000`);

  before(async () => {
    server = await startServer();
    auth = { authorization: `Bearer ${server.tokenId}:${server.tokenSecret}` };
    const d = await skiff(["deploy", "examples/shared-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
  });
  after(() => server?.stop());

  it("every curl example of docs/dashboard.md prints what the doc says", async () => {
    const examples = curlExamples(readFileSync(`${REPO}/docs/dashboard.md`, "utf8"));
    assert.ok(examples.length >= 6, `${examples.length} examples`);
    const env = { ...server.env, SKIFF_TOKEN_ID: server.tokenId, SKIFF_TOKEN_SECRET: server.tokenSecret };
    for (const ex of examples) {
      const failed = await runExample("docs/dashboard.md", ex, new URL(server.url).port, env);
      assert.equal(failed, undefined, failed);
    }
    const d = await skiff(["deploy", "test/fixtures/dash-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
  });

  it("no token, a bad token, or a token of the wrong kind: 401 everywhere, /metrics included", async () => {
    for (const path of ["/v1/apps", "/v1/calls", "/v1/functions", "/v1/logs", "/v1/events", "/metrics", "/v1/nope"]) {
      const none = await get(path, {});
      assert.equal(none.status, 401, `${path}: ${none.body}`);
      assert.match(none.body, /needs a token/);
      const bad = await get(path, { authorization: `Bearer ${server.tokenId}:wrong` });
      assert.equal(bad.status, 401, path);
      assert.match(bad.body, /invalid token/);
    }
    const t = await skiff(["token", "new", "--web"], { env: server.env });
    const web = `${/token id:\s+(\S+)/.exec(t.stdout)![1]}:${/token secret:\s+(\S+)/.exec(t.stdout)![1]}`;
    const r = await get("/v1/apps", { authorization: `Bearer ${web}` });
    assert.equal(r.status, 401);
    assert.match(r.body, /takes an API token \(skiff token new\), not an endpoint token"/);
  });

  it("sign in: a wrong token is refused with a message; a session cookie reads but never writes alone", async () => {
    const signIn = (token: string, headers: Record<string, string> = {}) =>
      http(`${server.url}/dashboard/session`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ token }),
      });
    const wrong = await signIn(`${server.tokenId}:nope`);
    assert.equal(wrong.status, 401);
    assert.match(wrong.body, /wrong token/);
    assert.equal(wrong.headers["set-cookie"], undefined);
    assert.equal((await signIn("no-colon")).status, 400);
    const evil = await signIn(`${server.tokenId}:${server.tokenSecret}`, { origin: "http://evil.example" });
    assert.equal(evil.status, 403, "a sign-in posted from another site");

    const ok = await signIn(`${server.tokenId}:${server.tokenSecret}`);
    assert.equal(ok.status, 200, ok.body);
    const setCookie = String(ok.headers["set-cookie"]);
    assert.match(setCookie, /^skiff_session=[\w-]{40,};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Max-Age=43\d\d\d/);
    const cookie = setCookie.split(";")[0]!;
    const csrf = (ok.json() as { csrfToken: string }).csrfToken;

    assert.equal((await get("/v1/apps", { cookie })).status, 200);
    const id = await spawn("sleepy", [600_000]);
    const cookieOnly = await http(`${server.url}/v1/calls/${id}/cancel`, { method: "POST", headers: { cookie } });
    assert.equal(cookieOnly.status, 403, cookieOnly.body);
    assert.match(cookieOnly.body, /anti-forgery/);
    const wrongCsrf = await http(`${server.url}/v1/calls/${id}/cancel`, {
      method: "POST",
      headers: { cookie, "x-skiff-csrf": "x".repeat(csrf.length) },
    });
    assert.equal(wrongCsrf.status, 403);
    assert.equal(
      ((await get(`/v1/calls/${id}?timeout_ms=0`)).json() as { status: string }).status,
      "pending",
      "still running",
    );
    const withCsrf = await http(`${server.url}/v1/calls/${id}/cancel`, {
      method: "POST",
      headers: { cookie, "x-skiff-csrf": csrf },
    });
    assert.equal(withCsrf.status, 200, withCsrf.body);
    assert.equal(((await get(`/v1/calls/${id}?timeout_ms=5000`)).json() as { status: string }).status, "cancelled");

    const out = await http(`${server.url}/dashboard/session`, {
      method: "DELETE",
      headers: { cookie, "x-skiff-csrf": csrf },
    });
    assert.equal(out.status, 200);
    assert.match(String(out.headers["set-cookie"]), /Max-Age=0/);
    assert.equal((await get("/v1/apps", { cookie })).status, 401, "signed out");
  });

  it("a failed call's details: the error with its remote stack, each attempt with its container and timing", async () => {
    const id = await spawn("charge", ["4242"]);
    assert.equal(((await settle(id)).json() as { status: string }).status, "failure");
    const r = await get(`/v1/calls/${id}/details`);
    assert.equal(r.status, 200, r.body);
    const d = r.json() as CallDetails;
    assert.equal(d.status, "failure");
    assert.equal(d.functionName, "charge");
    assert.equal(d.appName, "dash-app");
    assert.equal(d.error?.name, "PaymentError");
    assert.equal(d.error?.message, "card 4242 was declined");
    assert.match(d.error!.stack, /PaymentError: card 4242 was declined\n\s+at /);
    assert.equal(d.args?.text, '[\n "4242"\n]');
    // retries: 1 → two attempts, both failed, each on a container, with ordered times.
    assert.deepEqual(
      d.attempts.map((a) => [a.attempt, a.status]),
      [
        [1, "failure"],
        [2, "failure"],
      ],
    );
    for (const a of d.attempts) {
      assert.match(a.containerId ?? "", /^ct-/);
      assert.ok(a.startedAt! >= a.queuedAt && a.endedAt! >= a.startedAt!, JSON.stringify(a));
    }
    assert.equal(d.graph.length, 1);
    assert.equal(d.graph[0]!.status, "failure");
    // GET /v1/calls/<id> keeps its meaning: the outcome, as docs/web.md says.
    const outcome = (await get(`/v1/calls/${id}`)).json() as { status: string; error: { name: string } };
    assert.equal(outcome.status, "failure");
    assert.equal(outcome.error.name, "PaymentError");
  });

  it("the calls list filters by function and status and pages by cursor through every call once", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add(await spawn("square", [i]));
    for (const id of ids) await settle(id);
    const fn = (
      (await get("/v1/functions?app=dash-app")).json() as { functions: { id: string; name: string }[] }
    ).functions.find((f) => f.name === "square")!.id;
    const seen: string[] = [];
    let cursor: string | null = "";
    let pages = 0;
    while (cursor !== null) {
      const r = await get(`/v1/calls?function=${fn}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(r.status, 200, r.body);
      const page = r.json() as CallPage;
      seen.push(...page.calls.map((c) => c.id));
      for (const c of page.calls) assert.equal(c.functionName, "square");
      cursor = page.nextCursor;
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(new Set(seen), ids);
    assert.equal(seen.length, 5, "no call twice");
    const failures = (await get("/v1/calls?app=dash-app&status=failure")).json() as CallPage;
    assert.ok(failures.calls.length >= 1);
    for (const c of failures.calls) assert.equal(c.status, "failure");
    const none = (await get(`/v1/calls?function=${fn}&status=failure`)).json() as CallPage;
    assert.deepEqual(none.calls, []);
    const future = (await get(`/v1/calls?since=${Date.now() + 3_600_000}`)).json() as CallPage;
    assert.deepEqual(future, { calls: [], nextCursor: null });
  });

  it("an unknown call id, nonsense filters and page 10 000 000 get clear 400/404s, and the server is unaffected", async () => {
    const unknown = await get("/v1/calls/fc-0123456789abcdef/details");
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /no recorded function call fc-0123456789abcdef/);
    assert.equal((await get("/v1/calls/not-a-call/details")).status, 404);
    const cases: [string, RegExp][] = [
      ["/v1/calls?page=10000000", /cursor-paged/],
      ["/v1/calls?offset=500", /cursor-paged/],
      ["/v1/calls?status=exploded", /status must be one of pending, success/],
      ["/v1/calls?limit=0", /limit must be an integer from 1 to 200/],
      ["/v1/calls?limit=abc", /limit must be an integer/],
      ["/v1/calls?limit=99999999999999999999", /limit must be an integer/],
      ["/v1/calls?since=last-tuesday", /since must be epoch milliseconds or an ISO 8601 date/],
      ["/v1/calls?cursor=bogus", /cursor is not one this server gave out/],
      ["/v1/calls?funtcion=x", /unknown parameter ..funtcion/],
      [`/v1/calls?app=${"a".repeat(5000)}`, /app must be an id or a name/],
      ["/v1/calls?function=%27%3B%20DROP%20TABLE%20calls", /function must be an id or a name/],
      ["/v1/logs?after=-1", /after must be an integer/],
      ["/v1/events?nope=1", /unknown parameter ..nope/],
    ];
    for (const [path, msg] of cases) {
      const r = await get(path);
      assert.equal(r.status, 400, `${path}: ${r.body}`);
      assert.match(r.body, msg, path);
    }
    assert.equal(
      ((await get("/v1/calls?page=10000000")).json() as { error: { code: string } }).error.code,
      "invalid_argument",
    );
    assert.equal((await http(`${server.url}/v1/apps`, { method: "DELETE", headers: auth })).status, 405);
    assert.equal((await get("/healthz", {})).status, 200);
    assert.equal((await get("/v1/calls?limit=1")).status, 200, "still answering");
  });

  it("a huge log line and a huge argument are shown cut, never whole", async () => {
    const marker = `m${Date.now()}`;
    await settle(await spawn("chatty", [marker, 5_000_000]));
    const appId = ((await get("/v1/apps")).json() as { apps: { id: string; name: string }[] }).apps.find(
      (a) => a.name === "dash-app",
    )!.id;
    const lines = await waitFor(async () => {
      const r = (await get(`/v1/logs?app=${appId}&function=chatty&limit=50`)).json() as { lines: LogLine[] };
      return r.lines.some((l) => l.text.startsWith("big:")) && r.lines;
    }, "the big log line");
    const big = lines.find((l) => l.text.startsWith("big:"))!;
    assert.equal(big.truncated, true);
    assert.equal(big.text.length, 4096);
    assert.ok(lines.some((l) => l.text.includes(`hello from chatty: ${marker}`) && !l.truncated));

    // 20 MB: stored as a blob, not decoded for the page; 200 KB: decoded, the preview cut.
    for (const [size, decoded] of [
      [20_000_000, false],
      [200_000, true],
    ] as const) {
      const id = await spawn("square", ["y".repeat(size)]);
      await settle(id);
      const r = await get(`/v1/calls/${id}/details`);
      assert.ok(r.body.length < 40_000, `details of a ${size}-byte argument are ${r.body.length} bytes`);
      const d = r.json() as CallDetails;
      assert.equal(d.args!.truncated, true);
      assert.ok(d.args!.bytes > size, String(d.args!.bytes));
      if (decoded) assert.equal(d.args!.text.length, 4096);
      else assert.match(d.args!.text, /^<19\.\d MiB in blob bl-\S+: too large to preview>$/);
    }
  });

  it("objects: named dicts, queues and volumes with their sizes, a dict's keys by page, a volume's directories", {
    skip:
      process.env.SKIFF_TEST_STORE === "postgres"
        ? "NOT CHECKED on Postgres: Dicts, Queues and Volumes are not on the Postgres store yet"
        : false,
  }, async () => {
    const client = server.client();
    const d = Dict.fromName<string, number>("dash-dict", { createIfMissing: true, client });
    for (let i = 0; i < 150; i++) await d.put(`key-${String(i).padStart(3, "0")}`, i);
    await Queue.fromName("dash-queue", { createIfMissing: true, client }).putMany([1, 2, 3]);
    const v = Volume.fromName("dash-vol", { createIfMissing: true, client });
    await v.writeFile("models/a.bin", new Uint8Array(2048));
    await v.writeFile("readme.txt", new TextEncoder().encode("hi"));
    const list = (await get("/v1/objects")).json() as { objects: ObjectSummary[] };
    const by = new Map(list.objects.map((o) => [o.name, o]));
    assert.equal(by.get("dash-dict")?.size, 150);
    assert.equal(by.get("dash-queue")?.size, 3);
    assert.equal(by.get("dash-vol")?.kind, "volume");
    const page1 = (await get(`/v1/objects/dict/${by.get("dash-dict")!.id}/keys`)).json() as ObjectEntries;
    assert.equal(page1.entries.length, 100);
    assert.equal(page1.entries[0]!.name, "key-000");
    const page2 = (
      await get(`/v1/objects/dict/${by.get("dash-dict")!.id}/keys?after=${encodeURIComponent(page1.next!)}`)
    ).json() as ObjectEntries;
    assert.equal(page2.entries.length, 50);
    assert.equal(page2.next, null);
    const root = (await get(`/v1/objects/volume/${by.get("dash-vol")!.id}/files`)).json() as ObjectEntries;
    assert.deepEqual(root.entries.map((e) => [e.name, e.type]).sort(), [
      ["models", "directory"],
      ["readme.txt", "file"],
    ]);
    const sub = (await get(`/v1/objects/volume/${by.get("dash-vol")!.id}/files?path=models`)).json() as ObjectEntries;
    assert.deepEqual(sub.entries, [{ name: "models/a.bin", type: "file", size: 2048 }]);
    const bad = await get(`/v1/objects/volume/${by.get("dash-vol")!.id}/files?path=../etc`);
    assert.equal(bad.status, 400);
  });

  it("/metrics: per-function counters and histograms in the Prometheus text format", async () => {
    const r = await get("/metrics");
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    const m = r.body;
    const value = (line: string) => {
      const v = m.split("\n").find((l) => l.startsWith(`${line} `));
      assert.ok(
        v,
        `no ${line} in\n${m
          .split("\n")
          .filter((l) => l.includes("charge"))
          .join("\n")}`,
      );
      return Number(v.slice(line.length + 1));
    };
    assert.equal(value('skiff_inputs_accepted_total{app="dash-app",function="charge"}'), 1);
    assert.equal(value('skiff_inputs_failed_total{app="dash-app",function="charge"}'), 1);
    assert.equal(value('skiff_inputs_retried_total{app="dash-app",function="charge"}'), 1);
    assert.ok(value('skiff_inputs_succeeded_total{app="dash-app",function="square"}') >= 5);
    assert.ok(value('skiff_cold_starts_total{app="dash-app",function="square"}') >= 1);
    assert.equal(value('skiff_input_duration_seconds_count{app="dash-app",function="charge"}'), 1);
    assert.equal(value('skiff_input_duration_seconds_bucket{app="dash-app",function="charge",le="+Inf"}'), 1);
    assert.ok(value('skiff_input_queue_wait_seconds_count{app="dash-app",function="charge"}') === 2, "per attempt");
    assert.match(m, /^skiff_queue_depth\{app="dash-app",function="sleepy"\} \d+$/m);
    assert.match(m, /^skiff_running_containers\{app="dash-app",function="square"\} \d+$/m);
    assert.ok(value("skiff_store_commit_seconds_count") > 0);
    assert.ok(value('skiff_connections{kind="http"}') >= 1);
    assert.match(m, /^# TYPE skiff_input_duration_seconds histogram$/m);
  });

  it("--metrics-public serves /metrics without a token, and nothing else", async () => {
    const open = await startServer({ args: ["--metrics-public"] });
    try {
      const m = await http(`${open.url}/metrics`);
      assert.equal(m.status, 200);
      assert.match(m.body, /^skiff_connections\{kind="websocket"\} \d+$/m);
      assert.equal((await http(`${open.url}/v1/apps`)).status, 401);
    } finally {
      await open.stop();
    }
  });
});
