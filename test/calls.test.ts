// Calling deployed functions through the SDK: values, errors, retries, timeouts, spawn.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encodePayload } from "@skiff/protocol";
import {
  AuthError,
  Client,
  Cls,
  Cron,
  Function_,
  FunctionCall,
  FunctionCancelledError,
  FunctionTimeoutError,
  gather,
  InvalidError,
  NotFoundError,
  Retries,
  SkiffError,
  TimeoutError,
} from "skiff";
import type * as coreApp from "./fixtures/core-app.js";
import { runProcess, type ServerProcess, skiff, startServer } from "./helpers/cli.js";

describe("calls to deployed functions", () => {
  let server: ServerProcess;
  let client: Client;
  const fn = <K extends keyof typeof coreApp>(name: K) =>
    Function_.fromName<(typeof coreApp)[K] extends Function_<infer F> ? Function_<F> : never>("core-app", name, {
      client,
    });

  before(async () => {
    server = await startServer();
    const d = await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /App "core-app" is live at version 1/);
    client = server.client();
  });
  after(() => server.stop());

  it("remote returns the result, typed from the definition", async () => {
    const square = fn("square");
    const y: number = await square.remote(7);
    assert.equal(y, 49);
    assert.equal(await Function_.fromName("core-app", "renamed", { client }).remote(), "by name");
    await assert.rejects(square.getWebUrl(), /^InvalidError: core-app\.square is not a web endpoint/);
  });

  it("local() runs the definition in this process", async () => {
    const { square } = await import("./fixtures/core-app.js");
    assert.equal(await square.local(6), 36);
    assert.throws(() => fn("square").local(2), /handle to a deployed function/);
  });

  it("keeps JavaScript types across the wire", async () => {
    const value = {
      n: 1.5,
      big: 2n ** 70n,
      s: "ü",
      u: undefined,
      nul: null,
      d: new Date(1_700_000_000_123),
      r: /a+b/gi,
      m: new Map<unknown, unknown>([
        [1, "one"],
        ["k", { nested: [1, 2] }],
      ]),
      set: new Set([1, "two"]),
      bytes: new Uint8Array([1, 2, 3]),
      f64: new Float64Array([0.5, -1]),
      err: new RangeError("as a value"),
      arr: [1, [2, [3]]],
    };
    const back = (await fn("echo").remote(value)) as typeof value;
    assert.deepEqual({ ...back, err: undefined }, { ...value, err: undefined });
    assert.ok(back.m instanceof Map && back.set instanceof Set && back.d instanceof Date && back.r instanceof RegExp);
    assert.ok(back.f64 instanceof Float64Array);
    assert.equal(back.err.name, "RangeError");
    assert.equal(back.err.message, "as a value");
  });

  it("gives the running input's context inside the function", async () => {
    const ctx = await fn("context").remote();
    assert.match(ctx.id!, /^in-/);
    assert.match(ctx.functionCallId!, /^fc-/);
    assert.equal(ctx.attempt, 1);
    assert.equal(ctx.hasSignal, true);
  });

  it("rethrows a remote error with its name, message, remote stack and cause", async () => {
    const err = await fn("fails")
      .remote("bad input")
      .then(
        () => assert.fail("should throw"),
        (e: Error) => e,
      );
    assert.ok(err instanceof Error);
    assert.equal(err.name, "ValidationError");
    assert.equal(err.message, "bad input");
    assert.match(err.stack!, /ValidationError: bad input/);
    // Mapped through the bundle's source map to the app's own file and line.
    assert.match(err.stack!, /\/test\/fixtures\/core-app\.ts:30:\d+\)?$/m);
    assert.doesNotMatch(err.stack!, /bundle\.mjs/);
    const cause = err.cause as Error;
    assert.equal(cause.name, "TypeError");
    assert.equal(cause.message, "root cause");
    // JavaScript's own classes come back as themselves; only custom ones (above) become Error.
    assert.ok(cause instanceof TypeError, "a remote TypeError is instanceof TypeError");
    assert.ok(!(err instanceof TypeError));
  });

  it("turns a thrown non-Error value into a clear error", async () => {
    await assert.rejects(fn("throwsString").remote(), /function threw a non-Error value: "a plain string"/);
  });

  it("fails a call whose function calls process.exit, with a clear error", async () => {
    await assert.rejects(fn("exits").remote(), /called process\.exit\(3\)/);
    assert.equal(await fn("square").remote(3), 9); // others still run
  });

  it("retries thrown errors with backoff, up to the policy", async () => {
    assert.equal(await fn("flaky").remote(2), 3); // attempts 1 and 2 fail, 3 succeeds
    await assert.rejects(fn("flaky").remote(5), /attempt 3 fails/); // retries: 2 -> 3 attempts
  });

  it("times out per attempt with FunctionTimeoutError, also for a busy loop", async () => {
    const err = await fn("slow")
      .remote(5000)
      .catch((e: unknown) => e);
    assert.ok(err instanceof FunctionTimeoutError, String(err));
    assert.ok(err instanceof TimeoutError && err instanceof SkiffError);
    assert.match((err as Error).message, /timed out after 1s/);
    const spin = await fn("spin")
      .remote()
      .catch((e: unknown) => e);
    assert.ok(spin instanceof FunctionTimeoutError, String(spin));
    assert.equal(await fn("slow").remote(10), "done"); // the busy container was replaced
  });

  it("spawns, polls, gets, gathers and cancels calls", async () => {
    const sleeper = fn("sleeper");
    const call = await sleeper.spawn(1500);
    assert.match(call.objectId, /^fc-[0-9a-f]{24}$/);
    const early = await call.get({ timeoutMs: 0 }).catch((e: unknown) => e);
    assert.ok(early instanceof TimeoutError && !(early instanceof FunctionTimeoutError), String(early));
    const pid = await FunctionCall.fromId<number>(call.objectId, { client }).get();
    assert.equal(typeof pid, "number");
    assert.equal(await call.get(), pid, "get is repeatable");
    const [a, b] = await gather(await fn("square").spawn(2), await fn("echo").spawn("x"));
    assert.equal(a, 4);
    assert.equal(b, "x");
    const doomed = await sleeper.spawn(10_000);
    await doomed.cancel();
    await assert.rejects(doomed.get(), FunctionCancelledError);
  });

  it("refuses a misspelt option of a call, lookup, Retries or Cron (a plain-JavaScript caller's typo) instead of ignoring it", async () => {
    // Untyped, as from a .mjs script: TypeScript would catch these, JavaScript does not.
    const untyped = (o: object) => o as never;
    const sleeper = fn("sleeper");
    const call = await sleeper.spawn(5_000);
    // Ignored, `timeout` would wait the whole 5 s instead of polling.
    await assert.rejects(
      call.get(untyped({ timeout: 0 })),
      (e: Error) =>
        e instanceof InvalidError && /get: unknown option "timeout" \(did you mean "timeoutMs"\?\)/.test(e.message),
    );
    await assert.rejects(
      call.cancel(untyped({ terminateContainer: true })),
      (e: Error) => e instanceof InvalidError && /did you mean "terminateContainers"/.test(e.message),
    );
    await call.cancel({ terminateContainers: false });
    assert.throws(
      () => FunctionCall.fromId(call.objectId, untyped({ clinet: client })),
      (e: Error) => e instanceof InvalidError && /FunctionCall\.fromId: unknown option "clinet"/.test(e.message),
    );
    // Ignored, `enviroment` would look in the default environment instead.
    await assert.rejects(
      Function_.lookup("core-app", "square", untyped({ client, enviroment: "staging" })),
      (e: Error) =>
        e instanceof InvalidError && /unknown option "enviroment" \(did you mean "environment"\?\)/.test(e.message),
    );
    assert.throws(
      () => Cls.fromName("core-app", "Model", untyped({ client, env: "main" })),
      (e: Error) => e instanceof InvalidError && /Cls\.fromName: unknown option "env"/.test(e.message),
    );
    assert.throws(
      () => new Retries(untyped({ maxRetries: 2, initialDelay: 10 })),
      (e: Error) => e instanceof InvalidError && /did you mean "initialDelayMs"/.test(e.message),
    );
    assert.throws(() => new Cron("0 6 * * *", untyped({ tz: "UTC" })), /Cron: unknown option "tz"/);
    await assert.rejects(
      gather(await fn("square").spawn(2), untyped({ get: () => 1 })),
      (e: Error) => e instanceof InvalidError && /gather: argument 1 is not a FunctionCall/.test(e.message),
    );
    // The documented spellings still work.
    assert.equal(
      await (
        await Function_.lookup<Function_<(x: number) => Promise<number>>>("core-app", "square", {
          client,
          environment: "main",
        })
      ).remote(3),
      9,
    );
  });

  it("collects a spawned call from another process by its id", async () => {
    const call = await fn("square").spawn(12);
    const script = `import { FunctionCall } from "skiff"; console.log(await FunctionCall.fromId(process.env.CALL_ID).get());`;
    const r = await runProcess(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...server.env, CALL_ID: call.objectId },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "144");
  });

  it("finds a call by its idempotency key whichever connection sends the key first", async () => {
    // Keys made as the connection's prefix + n skip the store lookup on that connection
    // (api/fresh-keys.ts): a key sent on another connection first (a resend after a reconnect)
    // must still be found, also once the call has ended and only the store knows it.
    const a = server.client();
    const b = server.client();
    try {
      const where = { appName: "core-app", name: "square", environment: "main" };
      const { functionId } = await a.request("function.lookup", where);
      await b.request("function.lookup", where);
      const create = (c: Client, idempotencyKey: string) =>
        c.request("call.create", {
          functionId,
          kind: "spawn",
          args: encodePayload([3], "args"),
          idempotencyKey,
          await: false,
        });
      const [k1, k2] = [a.newCallKey(), a.newCallKey()];
      assert.match(k1, /^ck-[0-9a-f]{24}\.1$/);
      const first = await create(a, k1);
      const onB = await create(b, k2);
      assert.notEqual(onB.callId, first.callId);
      assert.equal(await FunctionCall.fromId<number>(onB.callId, { client }).get(), 9);
      assert.equal((await create(a, k2)).callId, onB.callId, "a's own key, sent first on b");
      assert.equal(await FunctionCall.fromId<number>(first.callId, { client }).get(), 9);
      assert.equal((await create(b, k1)).callId, first.callId, "a's key resent on b after the call ended");
      assert.equal((await create(a, k1)).callId, first.callId, "and once more on a");
    } finally {
      a.close();
      b.close();
    }
  });

  it("answers a `.remote` resent after its reply was lost with the delivered outcome, not a second run", async () => {
    // The reply went out on one connection; the caller, reconnected, sends the same key again.
    // The engine remembers delivered `.remote` outcomes by key (bounded, engine/recent-map.ts).
    const a = server.client();
    const b = server.client();
    try {
      const where = { appName: "core-app", name: "context", environment: "main" };
      const { functionId } = await a.request("function.lookup", where);
      const create = (c: Client, idempotencyKey: string) =>
        c.request("call.create", {
          functionId,
          kind: "remote",
          args: encodePayload([], "args"),
          idempotencyKey,
          await: true,
        });
      const key = a.newCallKey();
      const first = await create(a, key);
      assert.ok(first.outcome, "the first call waits for its outcome");
      const again = await create(b, key);
      assert.equal(again.callId, first.callId);
      // `context` returns its input's id: a second run would answer another one.
      assert.deepEqual(again.outcome, first.outcome);
      const other = await create(b, b.newCallKey());
      assert.notDeepEqual(other.outcome, first.outcome, "a new key runs again");
    } finally {
      a.close();
      b.close();
    }
  });

  it("fails at the caller, naming the path, for values that cannot be sent", async () => {
    // A client for a server that does not exist: the error must come before any I/O.
    const nowhere = new Client({
      serverUrl: "http://127.0.0.1:1",
      tokenId: "x",
      tokenSecret: "y",
      environment: "main",
    });
    const f = Function_.fromName<Function_<(o: { cb: () => void }) => void>>("core-app", "echo", {
      client: nowhere,
    });
    await assert.rejects(
      f.remote({ cb: () => {} }),
      (e: Error) => e instanceof InvalidError && /args\[0\]\.cb is a function/.test(e.message),
    );
    await assert.rejects(f.spawn({ cb: () => {} }), /args\[0\]\.cb/);
    class Point {
      x = 1;
    }
    await assert.rejects(fn("echo").remote(new Point()), /args\[0\] is an instance of Point/);
    await assert.rejects(fn("echo").remote(Symbol("s")), /args\[0\] is a symbol/);
    nowhere.close();
  });

  it("fails a result that cannot be sent back, naming the path", async () => {
    await assert.rejects(fn("badResult").remote(), /result\.f is a function/);
  });

  it("moves large payloads through the blob store and refuses oversized ones", async () => {
    const out = await fn("bytes").remote(3 * 1024 * 1024);
    assert.equal(out.byteLength, 3 * 1024 * 1024);
    assert.equal(out[123], 7);
    const echoed = (await fn("echo").remote(new Uint8Array(2 * 1024 * 1024).fill(9))) as Uint8Array;
    assert.equal(echoed.byteLength, 2 * 1024 * 1024);
    await assert.rejects(
      fn("echo").remote(new Uint8Array(65 * 1024 * 1024)),
      /over the 67108864-byte \(64 MiB\) payload limit/,
    );
  });

  it("answers NotFoundError naming the app and the function", async () => {
    await assert.rejects(
      Function_.lookup("no-such-app", "square", { client }),
      (e: Error) =>
        e instanceof NotFoundError && /no deployed app "no-such-app"/.test(e.message) && /"square"/.test(e.message),
    );
    await assert.rejects(
      Function_.lookup("core-app", "nope", { client }),
      (e: Error) => e instanceof NotFoundError && /app "core-app" has no function "nope"/.test(e.message),
    );
    const lazy = Function_.fromName("core-app", "nope", { client });
    assert.throws(() => lazy.isGenerator, /hydrate/);
  });

  it("an unknown call id is NotFoundError from the engine, to the SDK and as a 404 over HTTP", async () => {
    const id = "fc-0123456789abcdef01234567";
    await assert.rejects(
      FunctionCall.fromId(id, { client }).get(),
      (e: Error) => e instanceof NotFoundError && new RegExp(`no function call ${id}`).test(e.message),
    );
    const r = await fetch(`${server.url}/v1/calls/${id}`, {
      headers: { authorization: `Bearer ${server.tokenId}:${server.tokenSecret}` },
    });
    assert.equal(r.status, 404);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, "not_found");
  });

  it("rejects a wrong token with a clear AuthError", async () => {
    const bad = new Client({
      serverUrl: server.url,
      tokenId: server.tokenId,
      tokenSecret: "wrong",
      environment: "main",
    });
    await assert.rejects(
      Function_.lookup("core-app", "square", { client: bad }),
      (e: Error) => e instanceof AuthError && /invalid token/.test(e.message),
    );
    bad.close();
  });
});
