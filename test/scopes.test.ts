// Environments and token scopes (issue 15 item 5, api.md §9), end to end through the real CLI:
// `skiff environment create|list|delete`, `skiff token new --environment E --apps a,b`, and
// what each scope reaches; a container reads only blobs of its own app's calls and reaches only
// calls and functions of its own environment; a scoped token reads only blobs it was given;
// volume.read serves only the named volume's content; a web endpoint token reaches none.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AuthError, Client, Dict, Function_, readProfiles, Volume } from "skiff";
import { WebSocket } from "ws";
import type * as appA from "./fixtures/scopes-a-app.js";
import type * as appB from "./fixtures/scopes-b-app.js";
import type * as appC from "./fixtures/scopes-c-app.js";
import { type ServerProcess, skiff, startServer } from "./helpers/cli.js";

describe("environments and token scopes", { timeout: 180_000 }, () => {
  let server: ServerProcess;
  let admin: Client;
  const clients: Client[] = [];
  /** CLI environment using profile `name` of the server's config. */
  const as = (name: string) => ({ ...server.env, SKIFF_PROFILE: name });
  /** `skiff token new … --profile name`, and an SDK client with that token. */
  async function scopedToken(name: string, flags: string[], environment: string) {
    const r = await skiff(["token", "new", ...flags, "--profile", name], { env: server.env });
    assert.equal(r.code, 0, r.stderr);
    const p = (await readProfiles(join(server.home, ".skiff.toml")))[name]!;
    assert.equal(p.environment, environment, "the profile uses the token's environment");
    const c = new Client({ serverUrl: server.url, tokenId: p.token_id!, tokenSecret: p.token_secret!, environment });
    clients.push(c);
    return { tokenId: p.token_id!, client: c };
  }

  async function profileToken(name: string) {
    const p = (await readProfiles(join(server.home, ".skiff.toml")))[name]!;
    return { tokenId: p.token_id!, tokenSecret: p.token_secret! };
  }

  before(async () => {
    server = await startServer();
    admin = server.client();
    const created = await skiff(["environment", "create", "dev"], { env: server.env });
    assert.equal(created.code, 0, created.stderr);
    // Deploys one at a time: each writes the bundle cache of the same fixture directory.
    for (const [file, env] of [
      ["test/fixtures/scopes-a-app.ts", "main"],
      ["test/fixtures/scopes-b-app.ts", "main"],
      ["test/fixtures/scopes-c-app.ts", "main"],
      ["test/fixtures/scopes-a-app.ts", "dev"],
    ] as const) {
      const r = await skiff(["deploy", file, "--env", env], { env: server.env });
      assert.equal(r.code, 0, r.stderr);
    }
    await Dict.fromName("shared", { createIfMissing: true, client: admin }).put("k", "v");
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  it("skiff environment: list, a second create, an unknown environment, main kept", async () => {
    const list = await skiff(["environment", "list"], { env: server.env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      list.stdout
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
      ["dev", "main"],
    );
    const again = await skiff(["environment", "create", "dev"], { env: server.env });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /environment "dev" already exists/);
    const typo = await skiff(["deploy", "test/fixtures/scopes-a-app.ts", "--env", "dve"], { env: server.env });
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /environment "dve" does not exist: create it with `skiff environment create dve`/);
    const noEnv = await skiff(["token", "new", "--environment", "nope", "--profile", "x"], { env: server.env });
    assert.equal(noEnv.code, 1);
    assert.match(noEnv.stderr, /environment "nope" does not exist/);
    const webScoped = await skiff(["token", "new", "--web", "--apps", "a"], { env: server.env });
    assert.equal(webScoped.code, 2, webScoped.stderr);
    assert.match(webScoped.stderr, /--environment and --apps scope API tokens/);
    const main = await skiff(["environment", "delete", "main"], { env: server.env });
    assert.equal(main.code, 1);
    assert.match(main.stderr, /environment "main" cannot be deleted/);
  });

  it("an environment-scoped token reaches only its environment: apps, calls and objects of another are refused", async () => {
    const { tokenId, client } = await scopedToken("devtok", ["--environment", "dev"], "dev");
    // Its own environment works: the CLI (profile environment dev) and a call.
    const apps = await skiff(["app", "list"], { env: as("devtok") });
    assert.equal(apps.code, 0, apps.stderr);
    assert.match(apps.stdout, /scope-a/);
    const ping = await Function_.lookup<typeof appA.ping>("scope-a", "ping", { client });
    assert.equal(await ping.remote(), "a");
    // Another environment: listed, looked up, called by id, its objects: each refused, naming the scope.
    const denied = new RegExp(`token ${tokenId} is scoped to environment "dev": it cannot reach environment "main"`);
    const other = await skiff(["app", "list", "--env", "main"], { env: as("devtok") });
    assert.equal(other.code, 1);
    assert.match(other.stderr, denied);
    await assert.rejects(Function_.lookup("scope-a", "ping", { client, environment: "main" }), denied);
    const mainPing = await admin.request("function.lookup", { appName: "scope-a", name: "ping", environment: "main" });
    await assert.rejects(
      client.request("call.create", {
        functionId: mainPing.functionId,
        kind: "spawn",
        args: new Uint8Array([0x80]),
        idempotencyKey: "scoped-env-call",
        await: false,
      }),
      /it cannot call app "scope-a"|cannot reach environment "main"/,
    );
    await assert.rejects(Dict.fromName("shared", { client, environment: "main" }).get("k"), denied);
    const dicts = await skiff(["dict", "list", "--env", "main"], { env: as("devtok") });
    assert.equal(dicts.code, 1);
    assert.match(dicts.stderr, denied);
    // The HTTP API (no per-request scope checks) does not take a scoped token at all.
    const p = (await readProfiles(join(server.home, ".skiff.toml"))).devtok!;
    const http = await fetch(`${server.url}/v1/objects?environment=main`, {
      headers: { authorization: `Bearer ${p.token_id}:${p.token_secret}` },
    });
    assert.equal(http.status, 403);
    assert.match(await http.text(), /takes an unscoped token/);
  });

  it("an app-scoped token calls and deploys only its apps and reads objects but writes none", async () => {
    const { tokenId, client } = await scopedToken("apptok", ["--apps", "scope-a"], "main");
    const ping = await Function_.lookup<typeof appA.ping>("scope-a", "ping", { client });
    assert.equal(await ping.remote(), "a");
    const scope = `token ${tokenId} is scoped to apps scope-a of environment "main"`;
    await assert.rejects(
      Function_.lookup("scope-b", "ping", { client }),
      new RegExp(`${scope}: it cannot call app "scope-b"`),
    );
    const deployB = await skiff(["deploy", "test/fixtures/scopes-b-app.ts"], { env: as("apptok") });
    assert.equal(deployB.code, 1);
    assert.match(deployB.stderr, /it cannot deploy app "scope-b"/);
    const deployA = await skiff(["deploy", "test/fixtures/scopes-a-app.ts"], { env: as("apptok") });
    assert.equal(deployA.code, 0, deployA.stderr);
    const list = await skiff(["app", "list"], { env: as("apptok") });
    assert.match(list.stdout, /scope-a/);
    assert.doesNotMatch(list.stdout, /scope-b/, "an app-scoped token lists only its apps");
    // Objects: read, never written (a write names the scope).
    const shared = Dict.fromName<string, string>("shared", { client });
    assert.equal(await shared.get("k"), "v");
    await assert.rejects(shared.put("k", "w"), (e: Error) => {
      assert.ok(e instanceof AuthError, String(e));
      assert.match(
        e.message,
        new RegExp(`${scope}: it cannot write Dict "shared": it reads the environment's objects but writes none`),
      );
      return true;
    });
    const create = await skiff(["dict", "create", "mine"], { env: as("apptok") });
    assert.equal(create.code, 1);
    assert.match(create.stderr, /it cannot create "mine"/);
    assert.equal(await Dict.fromName<string, string>("shared", { client: admin }).get("k"), "v");
    // token list shows each scope.
    const tokens = await skiff(["token", "list"], { env: server.env });
    assert.equal(tokens.code, 0, tokens.stderr);
    assert.match(
      tokens.stdout,
      new RegExp(`${tokenId}\\s+api\\s.*active\\s+env main, apps scope-a \\(objects read-only\\)`),
    );
    assert.match(tokens.stdout, /env dev\n/);
  });

  it("a container reads only blobs of its own app's calls, and passes on no other", async () => {
    // A result of app scope-a's call, over the inline limit: a blob.
    const a = await Function_.lookup<typeof appA.big>("scope-a", "big", { client: admin });
    const fc = await a.spawn();
    const { outcome } = await admin.request("call.get", { callId: fc.objectId, timeoutMs: 60_000 });
    assert.ok(outcome.kind === "result" && outcome.result.status === "success", JSON.stringify(outcome));
    const blobId = (outcome.result.data as { blob: string }).blob;
    assert.match(blobId, /^bl-/);
    // A container of app scope-b, given a large argument of its own (a blob it may read).
    const steal = await Function_.lookup<typeof appB.steal>("scope-b", "steal", { client: admin });
    const r = await steal.remote(blobId, "b".repeat(1536 * 1024));
    assert.equal(r.ownLength, 1536 * 1024, "its own call's blob is read");
    assert.match(
      r.read,
      /^refused: a container reads only blobs of its own app's calls: blob bl-\w+ was not sent to this container/,
    );
    assert.match(r.passed, /^refused: call.create: blob bl-\w+ was not sent to this container/);
  });

  it("a container reaches only calls and functions of its own environment", async () => {
    const lookup = (environment: string) =>
      admin.request("function.lookup", { appName: "scope-a", name: "ping", environment });
    const devPing = await lookup("dev");
    const mainPing = await lookup("main");
    const devCall = await (await Function_.fromId<typeof appA.ping>(devPing.functionId, { client: admin })).spawn();
    const reach = await Function_.lookup<typeof appC.reach>("scope-c", "reach", { client: admin });
    const r = await reach.remote(devCall.objectId, devPing.functionId, mainPing.functionId);
    const who = /^refused: container \S+ \(app "scope-c" of environment "main"\) cannot reach /;
    const why = /: a container reaches only calls and functions of its own environment$/;
    for (const [request, outcome] of Object.entries(r.other)) {
      assert.match(outcome, who, request);
      assert.match(outcome, why, request);
      const what = ["call.get", "call.graph", "call.cancel", "map.resume"].includes(request)
        ? `call ${devCall.objectId} of scope-a.ping of environment "dev"`
        : request === "function.lookup"
          ? `app "scope-a" of environment "dev"`
          : ` scope-a.ping of environment "dev"`;
      assert.ok(outcome.includes(what), `${request}: ${outcome}`);
    }
    assert.deepEqual(Object.keys(r.other).length, 11, "every request naming a call or a function was tried");
    assert.equal(r.own, "result", "its own environment's calls are made and read back");
    // The refused cancel did nothing: the call ran to its result.
    assert.equal(await devCall.get({ timeoutMs: 60_000 }), "a");
  });

  it("a scoped token reads and passes on only blobs it was sent or uploaded, on any of its connections", async () => {
    const { tokenId, client } = await scopedToken("blobtok", ["--environment", "dev"], "dev");
    // Another environment's large result: a blob id the token could learn, but was not sent.
    const mainBig = await Function_.lookup<typeof appA.big>("scope-a", "big", { client: admin });
    const { outcome } = await admin.request("call.get", {
      callId: (await mainBig.spawn()).objectId,
      timeoutMs: 60_000,
    });
    assert.ok(outcome.kind === "result" && outcome.result.status === "success", JSON.stringify(outcome));
    const foreign = (outcome.result.data as { blob: string }).blob;
    const scope = `token ${tokenId} is scoped to environment "dev"`;
    await assert.rejects(client.request("blob.get", { blobId: foreign, length: 16 }), (e: Error) => {
      assert.ok(e instanceof AuthError, String(e));
      assert.match(e.message, new RegExp(`^${scope}: it cannot read blob ${foreign}: a scoped token reads`));
      return true;
    });
    const devPing = await client.request("function.lookup", { appName: "scope-a", name: "ping", environment: "dev" });
    await assert.rejects(
      client.request("call.create", {
        functionId: devPing.functionId,
        kind: "spawn",
        args: { blob: foreign },
        idempotencyKey: `pass-${Date.now()}`,
        await: false,
      }),
      new RegExp(`${scope}: it cannot call.create with blob ${foreign}`),
    );
    // Its own environment's large result is read (sent to it), and again on a new connection.
    const devBig = await Function_.lookup<typeof appA.big>("scope-a", "big", { client });
    const own = await client.request("call.create", {
      functionId: devBig.objectId,
      kind: "remote",
      args: new Uint8Array([0x80]),
      idempotencyKey: `own-${Date.now()}`,
      await: true,
    });
    assert.ok(own.outcome?.kind === "result" && own.outcome.result.status === "success", JSON.stringify(own));
    const ownBlob = (own.outcome.result.data as { blob: string }).blob;
    assert.equal((await client.request("blob.get", { blobId: ownBlob })).size > 2 * 1024 * 1024, true);
    const again = new Client({ serverUrl: server.url, ...(await profileToken("blobtok")), environment: "dev" });
    clients.push(again);
    assert.equal((await again.request("blob.get", { blobId: ownBlob, length: 16 })).data.byteLength, 16);
    // An unscoped token keeps its reach.
    assert.equal((await admin.request("blob.get", { blobId: ownBlob, length: 16 })).data.byteLength, 16);
  });

  it("volume.read serves only content of the volume it names", async () => {
    const { client } = await scopedToken("voltok", ["--environment", "dev"], "dev");
    await Volume.fromName("main-vol", { createIfMissing: true, client: admin }).writeFile("secret.txt", "main only");
    const mine = Volume.fromName("dev-vol", { createIfMissing: true, client: admin, environment: "dev" });
    await mine.writeFile("mine.txt", "dev data");
    const id = async (c: Client, name: string, environment: string) =>
      (await c.request("object.get", { kind: "volume", name, environment, createIfMissing: false })).objectId;
    const mainVol = await id(admin, "main-vol", "main");
    const devVol = await id(client, "dev-vol", "dev");
    const secret = await admin.request("volume.stat", { objectId: mainVol, path: "secret.txt" });
    // Its own volume's file reads; the other environment's content, named through it, does not.
    assert.equal(
      new TextDecoder().decode(await readAll(Volume.fromName("dev-vol", { client }).readFile("mine.txt"))),
      "dev data",
    );
    const refused = new RegExp(
      `^Volume "dev-vol" holds no file with content ${secret.hash.slice(0, 12)}…: volume.read serves only content of the volume it names`,
    );
    for (const c of [client, admin])
      await assert.rejects(
        c.request("volume.read", { objectId: devVol, hash: secret.hash, offset: 0, length: 9 }),
        (e: Error) => {
          assert.ok(e instanceof AuthError, String(e));
          assert.match(e.message, refused);
          return true;
        },
      );
    // Read on a connection that never stat'ed it: the volume's newest version holds it.
    const fresh = new Client({ serverUrl: server.url, ...(await profileToken("voltok")), environment: "dev" });
    clients.push(fresh);
    const own = await client.request("volume.stat", { objectId: devVol, path: "mine.txt" });
    const data = await fresh.request("volume.read", { objectId: devVol, hash: own.hash, offset: 0, length: 8 });
    assert.equal(new TextDecoder().decode(data.data), "dev data");
    const deleted = await skiff(["volume", "delete", "dev-vol", "--env", "dev"], { env: server.env });
    assert.equal(deleted.code, 0, deleted.stderr);
  });

  it("a web endpoint token reaches no objects, calls or functions: not over the API, not over HTTP", async () => {
    const web = await admin.request("token.create", { kind: "web" });
    const c = new Client({ serverUrl: server.url, ...web, environment: "main" });
    clients.push(c);
    await assert.rejects(Dict.fromName("shared", { client: c }).get("k"), /a web endpoint token cannot use the API/);
    // Nor calls or functions: refused before any request.
    await assert.rejects(Function_.lookup("scope-a", "ping", { client: c }), /a web endpoint token cannot use the API/);
    for (const path of ["/v1/objects?environment=main", "/v1/apps"]) {
      const r = await fetch(`${server.url}${path}`, {
        headers: { authorization: `Bearer ${web.tokenId}:${web.tokenSecret}` },
      });
      assert.equal(r.status, 401, path);
    }
  });

  it("a requiresAuth endpoint's WebSocket takes only an endpoint token; refusing one leaves the server up", async () => {
    const port = new URL(server.url).port;
    const url = `ws://scope-a--guarded.localhost:${port}/`;
    const web = await admin.request("token.create", { kind: "web" });
    const bearer = { authorization: `Bearer ${web.tokenId}:${web.tokenSecret}` };
    await assert.rejects(openWebSocket(url), /status 401/);
    await assert.rejects(openWebSocket(url, { authorization: "Bearer tk-x:nope" }), /status 401/);
    const ws = await openWebSocket(url, bearer);
    assert.equal(await ws.first, "in");
    ws.close();
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it("skiff environment delete is refused while apps or objects live there, and works once they are gone", async () => {
    await Dict.fromName("dev-dict", { createIfMissing: true, client: admin, environment: "dev" }).len();
    const refused = await skiff(["environment", "delete", "dev"], { env: server.env });
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /environment "dev" still holds 1 running app .*, 1 object .*: stop or delete them first/,
    );
    const devPing = await Function_.lookup<typeof appA.ping>("scope-a", "ping", { client: admin, environment: "dev" });
    const devCall = await devPing.spawn();
    assert.equal(await devCall.get({ timeoutMs: 60_000 }), "a");
    assert.equal((await skiff(["app", "stop", "scope-a", "--env", "dev"], { env: server.env })).code, 0);
    // A call whose app stopped cannot be placed in a scope: only an unscoped token reads it.
    const { tokenId, client } = await scopedToken("gonetok", ["--environment", "dev"], "dev");
    await assert.rejects(
      client.request("call.get", { callId: devCall.objectId, timeoutMs: 0 }),
      new RegExp(
        `token ${tokenId} is scoped to environment "dev": it cannot reach call ${devCall.objectId}: its function is no longer deployed`,
      ),
    );
    assert.equal((await admin.request("call.get", { callId: devCall.objectId, timeoutMs: 0 })).outcome.kind, "result");
    assert.equal((await skiff(["dict", "delete", "dev-dict", "--env", "dev"], { env: server.env })).code, 0);
    const deleted = await skiff(["environment", "delete", "dev"], { env: server.env });
    assert.equal(deleted.code, 0, deleted.stderr);
    const list = await skiff(["environment", "list"], { env: server.env });
    assert.doesNotMatch(list.stdout, /^dev\s/m);
  });
});

/**
 * A web endpoint's WebSocket (`<app>--<label>.localhost` is loopback); rejects with the status.
 * `first` is its first message, listened for from the start (it may come with the upgrade).
 */
function openWebSocket(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ first: Promise<string>; close(): void }> {
  return new Promise((resolve, reject) => {
    const lookup = (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
      o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4);
    const ws = new WebSocket(url, { lookup, headers } as never);
    const first = new Promise<string>((r) => ws.once("message", (m) => r(String(m))));
    ws.once("open", () => resolve({ first, close: () => ws.close() }));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
  return Buffer.concat(parts);
}
