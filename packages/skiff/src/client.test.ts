// Configuration without a file system (api.md §8): new Client({ … }), Client.setDefault and
// Client.fromEnv(env), as a browser or a Worker uses them. This file loads the portable SDK
// only (no node entry): nothing here may touch a file or `ws`.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Client } from "./client.js";
import { ConnectionError, InvalidError, NotSupportedError } from "./errors.js";
import { nodeCapabilities } from "./platform.js";

const good = { serverUrl: "http://127.0.0.1:1", tokenId: "tk-a", tokenSecret: "ts-b", environment: "main" };

describe("explicit client configuration", () => {
  after(() => Client.setDefault(undefined));

  it("is the portable entry here: no Node capabilities loaded", () => {
    assert.equal(nodeCapabilities(), undefined);
  });

  it("new Client checks its parameters at once, in one line naming the setting", () => {
    assert.throws(
      () => new Client({ ...good, serverUrl: "localhost:7420" }),
      (e: Error) =>
        e instanceof InvalidError &&
        e.message ===
          'serverUrl given to new Client is "localhost:7420", which has no http:// or https://: expected http://host:port, https://host:port or unix:/path/to.sock',
    );
    assert.throws(
      () => new Client({ ...good, tokenSecret: "" }),
      /^InvalidError: new Client: tokenSecret must be a non-empty string, got ""$/,
    );
    assert.throws(
      () => new Client(undefined as unknown as typeof good),
      /new Client\(params\): expected \{ serverUrl, tokenId, tokenSecret, environment \}, got undefined/,
    );
    new Client(good).close();
  });

  it("Client.setDefault makes the client handles use; undefined goes back to the environment", async () => {
    const c = new Client(good);
    Client.setDefault(c);
    assert.equal(await Client.fromEnv(), c);
    assert.throws(
      () => Client.setDefault({} as Client),
      /^InvalidError: Client.setDefault: expected a Client, got Object$/,
    );
    Client.setDefault(undefined);
    // No file system and (here) no SKIFF_* in the environment: says how to configure one.
    if (!process.env.SKIFF_SERVER_URL)
      await assert.rejects(
        Client.fromEnv(),
        (e: Error) =>
          e instanceof ConnectionError &&
          /make one, new Client\(\{ serverUrl, tokenId, tokenSecret, environment \}\), .*Client.setDefault\(client\); in a Cloudflare Worker, Client.fromEnv\(env\)/.test(
            e.message,
          ),
      );
    c.close();
  });

  it("Client.fromEnv(env) reads a Worker's env object, one client per object, and names bad values", async () => {
    const env = { SKIFF_SERVER_URL: "https://cp.example:7420", SKIFF_TOKEN_ID: "tk-1", SKIFF_TOKEN_SECRET: "ts-2" };
    const a = await Client.fromEnv(env);
    assert.equal(a.serverUrl, "https://cp.example:7420");
    assert.equal(a.environment, "main");
    assert.equal(await Client.fromEnv(env), a);
    const b = await Client.fromEnv({ ...env, SKIFF_ENVIRONMENT: "dev" });
    assert.notEqual(b, a);
    assert.equal(b.environment, "dev");
    await assert.rejects(
      Client.fromEnv({ ...env, SKIFF_SERVER_URL: "ftp://cp.example" }),
      (e: Error) =>
        e instanceof InvalidError &&
        e.message.startsWith(
          'SKIFF_SERVER_URL of the env object given to Client.fromEnv is "ftp://cp.example", whose scheme ftp is not http or https',
        ),
    );
    await assert.rejects(
      Client.fromEnv({ SKIFF_SERVER_URL: "http://h:1" }),
      /but no token: set SKIFF_TOKEN_ID and SKIFF_TOKEN_SECRET of the env object given to Client.fromEnv$/,
    );
    await assert.rejects(Client.fromEnv({}), /^ConnectionError: Client.fromEnv\(env\): env has no SKIFF_SERVER_URL/);
    await assert.rejects(
      Client.fromEnv({ ...env, SKIFF_TOKEN_ID: 42 }),
      /env.SKIFF_TOKEN_ID must be a string, got number/,
    );
    // A Worker's env is typed by an interface (wrangler types), with bindings that are not strings.
    interface WorkerEnv {
      SKIFF_SERVER_URL: string;
      SKIFF_TOKEN_ID: string;
      SKIFF_TOKEN_SECRET: string;
      KV: { get(key: string): Promise<string | null> };
    }
    const typed: WorkerEnv = { ...env, KV: { get: async () => null } };
    (await Client.fromEnv(typed)).close();
    a.close();
    b.close();
  });
});

describe("a runtime with no WebSocket", () => {
  it("fails the first call at once with NotSupportedError, and every later one the same way", async () => {
    const had = Object.getOwnPropertyDescriptor(globalThis, "WebSocket");
    // Node 22 and later have a global WebSocket: take it away, as Node 20 has none.
    Object.defineProperty(globalThis, "WebSocket", { value: undefined, configurable: true, writable: true });
    try {
      const c = new Client(good);
      const t0 = performance.now();
      const first = await c.request("app.list", { environment: "main" }).catch((e: Error) => e);
      assert.ok(performance.now() - t0 < 500, `failed after ${performance.now() - t0} ms`);
      assert.ok(first instanceof NotSupportedError, String(first));
      assert.match(first.message, /^this runtime has no WebSocket/);
      // Permanent: not retried as a dropped connection, and not a vaguer error the second time.
      assert.equal(await c.request("app.list", { environment: "main" }).catch((e: Error) => e), first);
      c.close();
    } finally {
      if (had) Object.defineProperty(globalThis, "WebSocket", had);
      else delete (globalThis as { WebSocket?: unknown }).WebSocket;
    }
  });
});
