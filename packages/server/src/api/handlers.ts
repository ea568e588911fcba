import {
  type CallOutcome,
  type ExecSpec,
  MAX_PAYLOAD_BYTES,
  type MapOutputWire,
  type Payload,
  packPayloads,
  type RequestMessage,
  type RequestName,
  type RequestParams,
  type RequestResult,
  unpackPayloads,
} from "@skiff/protocol";
import type { AppService } from "../apps/app-service.js";
import { type BlobGrants, blobRefused, ungrantedBlob } from "../auth/blob-grants.js";
import { seesApp } from "../auth/scope.js";
import type { TokenService } from "../auth/tokens.js";
import type { CreatedCall, Engine, NewCall } from "../engine/engine.js";
import type { LogHub } from "../engine/log-hub.js";
import type { Environments } from "../environments/environments.js";
import type { Gateway } from "../gateway/index.js";
import type { Objects } from "../objects/index.js";
import type { ImageBuilder } from "../provider.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import type { Store } from "../store/store.js";
import type { WorkerRegistry } from "../workers/registry.js";
import { ApiError, invalid, notFound } from "./api-error.js";
import type { BlobTransfer } from "./blob-transfer.js";
import { CONTAINER_RULES } from "./container-rules.js";
import type { ExecRelay } from "./exec-relay.js";
import { builderOf, buildImage, imagesInUse, prepareImages } from "./images.js";
import { OBJECT_REQUESTS, objectHandlers } from "./object-handlers.js";
import type { Peer } from "./peer.js";
import { SCOPE_RULES } from "./scope-rules.js";
import { bool, num, obj, str, stringRecord } from "./validate.js";

export interface HandlerDeps {
  store: Store;
  blobs: BlobStore;
  blobTransfer: BlobTransfer;
  engine: Engine;
  apps: AppService;
  tokens: TokenService;
  logs: LogHub;
  gateway: Gateway;
  /** The worker provider's image builder, where it has one. */
  images: ImageBuilder | undefined;
  execs: ExecRelay;
  objects: Objects;
  environments: Environments;
  workers: WorkerRegistry;
  /** Set while the server stops gracefully (see server.ts drain()). */
  lifecycle: { draining: boolean };
}

/**
 * Requests that start work. While the server stops they are not answered: the connection
 * closes (1012) unanswered and the client sends them again to the next server (calls by
 * idempotency key; a map resumes and sends its inputs again).
 */
const HELD_WHILE_DRAINING = new Set<string>([
  "call.create",
  "gen.start",
  "map.start",
  "map.resume",
  "map.put",
  "map.end",
]);

export type Handler<N extends RequestName> = (
  peer: Peer,
  p: RequestParams<N>,
  d: HandlerDeps,
) => RequestResult<N> | Promise<RequestResult<N>>;
type HandlerTable = { [N in Exclude<RequestName, "hello">]: Handler<N> };

/**
 * Requests a container's own client may make: blobs (held to its grants), objects (held to its
 * environment by the registry), and calls and functions, each with its rule (container-rules.ts).
 */
const CONTAINER_ALLOWED = new Set<string>([
  "blob.put",
  "blob.append",
  "blob.get",
  ...Object.keys(CONTAINER_RULES),
  ...OBJECT_REQUESTS,
]);
/** Requests only an admin token may make. */
const ADMIN_ONLY = new Set<string>(["token.create", "token.list", "token.revoke", "image.prune", "worker.list"]);
/**
 * Requests that carry blob references (each must be a blob the container or scoped token was
 * given): payloads `{ blob }`, and a deploy's bundle and image files by `bundleBlobId`/`blobId`.
 */
const SENDS_BLOBS = new Set<string>([
  "app.publish",
  "image.build",
  "call.create",
  "gen.start",
  "map.put",
  "dict.put",
  "dict.update",
  "queue.put",
]);
/** The only requests a worker token may make (it may do nothing but be a worker). */
const WORKER_ONLY = new Set<string>([
  "worker.register",
  "worker.bundle",
  "worker.layer",
  "worker.volume.manifest",
  "worker.volume.read",
  "worker.volume.put",
  "worker.volume.commit",
  "worker.volume.done",
]);

/**
 * Where a map's outputs go to its connection: for a client that asked for columns, successes
 * as `idxs` and `data` (no object per output to encode and decode), anything else as items.
 */
function mapSink(
  peer: Peer,
  callId: () => string,
  columns: boolean,
  packed: boolean,
): (items: MapOutputWire[]) => void {
  if (!columns) return (items) => peer.send("map.outputs", { callId: callId(), items });
  return (items) => {
    const idxs: number[] = [];
    const data: Payload[] = [];
    const rest: MapOutputWire[] = [];
    for (const it of items) {
      if (it.result.status === "success") {
        idxs.push(it.idx);
        data.push(it.result.data);
      } else rest.push(it);
    }
    peer.send("map.outputs", { callId: callId(), items: rest, idxs, data: packed ? packPayloads(data) : data });
  };
}

function payload(p: Record<string, unknown>, key: string): Payload {
  const v = p[key];
  if (v instanceof Uint8Array) {
    if (v.byteLength > MAX_PAYLOAD_BYTES) throw invalid(`${key} is over the ${MAX_PAYLOAD_BYTES}-byte payload limit`);
    return v;
  }
  if (v && typeof v === "object" && typeof (v as { blob?: unknown }).blob === "string")
    return { blob: (v as { blob: string }).blob };
  throw invalid(`${key} must be bytes or { blob }`);
}

/**
 * Ties a streaming call (a map, a generator) to the connection that started it: the connection
 * owns it while it runs, and cancels it if the connection closes first.
 */
function tieToPeer(peer: Peer, d: HandlerDeps, owned: Set<string>): { bind(callId: string): void; release(): void } {
  let callId: string | undefined;
  const cancel = () => {
    if (callId) d.engine.cancelCall(callId, false).catch(() => {}); // already over
  };
  return {
    bind(id) {
      callId = id;
      owned.add(id);
      peer.cleanups.add(cancel);
    },
    release() {
      if (callId) owned.delete(callId);
      peer.cleanups.delete(cancel);
    },
  };
}

/** Ties a map to the connection that runs it: when the connection closes, the map waits for map.resume. */
function tieMapToPeer(
  peer: Peer,
  d: HandlerDeps,
  sink: (items: MapOutputWire[]) => void,
): { bind(callId: string): void; release(): void } {
  let callId: string | undefined;
  const detach = () => {
    if (!callId) return;
    // A client that closed its connection itself (1000) is gone for good: no resume will come.
    if (peer.closeCode === 1000) d.engine.cancelCall(callId, false).catch(() => {});
    else d.engine.detachMap(callId, sink);
  };
  return {
    bind(id) {
      callId = id;
      peer.maps.add(id);
      peer.cleanups.add(detach);
    },
    release() {
      if (callId) peer.maps.delete(callId);
      peer.cleanups.delete(detach);
    },
  };
}

/**
 * Waits for a call's outcome on behalf of a connection, and gives `reply(callId, outcome)`: the
 * wait ends if the connection closes, and its cleanup is dropped once it settles (one per
 * awaited call, so they must not pile up on a long-lived connection). The reply is made in the
 * same promise turn (not a `.then` more: a promise and a microtask fewer per warm `.remote`).
 */
function awaitForPeer<T>(
  peer: Peer,
  d: HandlerDeps,
  callId: string,
  timeoutMs: number | undefined,
  reply: (callId: string, outcome: CallOutcome | undefined) => T,
): Promise<T> {
  let cancel: (() => void) | undefined;
  // then(…, …) rather than finally(): one promise turn instead of three on every awaited call.
  // No closure bound to a name here (see callMade).
  return d.engine
    .awaitCall(callId, timeoutMs, (c) => {
      cancel = c;
      peer.cleanups.add(c);
    })
    .then(
      (outcome) => {
        if (cancel) peer.cleanups.delete(cancel);
        return reply(callId, outcome);
      },
      (err: unknown) => {
        if (cancel) peer.cleanups.delete(cancel);
        throw err;
      },
    );
}

/** An awaited call.create's reply: its outcome, where it has one. */
function remoteReply(callId: string, outcome: CallOutcome | undefined): RequestResult<"call.create"> {
  return outcome ? { callId, outcome } : { callId };
}

/**
 * call.create's reply once the call is made: its outcome where it has one, else (a spawn) once
 * durable, or (`wait`) once it ends. A function of the module, not a closure bound to a name in
 * the handler: the CLI bundle keeps names (keepNames), which names such a closure with a
 * defineProperty each time one is made, 1-2 µs on every warm `.remote` (bench/RESULTS.md).
 */
function callMade(
  peer: Peer,
  d: HandlerDeps,
  wait: boolean,
  c: CreatedCall,
): RequestResult<"call.create"> | Promise<RequestResult<"call.create">> {
  if (c.outcome) return { callId: c.callId, outcome: c.outcome };
  // A spawn is acknowledged only once durable: the caller may exit right after.
  if (!wait) return d.store.flush().then(() => ({ callId: c.callId }));
  return awaitForPeer(peer, d, c.callId, undefined, remoteReply);
}

const env = (p: Record<string, unknown>) => str(p, "environment", { max: 64 });

/** A command to run in a container; without argv (a shell), an interactive shell. */
function execSpec(q: Record<string, unknown>, needArgv: boolean): ExecSpec {
  const argv = q.argv;
  if (argv !== undefined || needArgv) {
    if (!Array.isArray(argv) || argv.length === 0 || argv.length > 1000)
      throw invalid("argv must be a non-empty array of strings: the command and its arguments");
    if (argv.some((a) => typeof a !== "string" || a.length > 65_536 || a.includes("\0")))
      throw invalid("argv must hold strings (no NUL bytes, 64 KiB each at most)");
  }
  const tty = bool(q, "tty", false);
  const rows = num(q, "rows", { optional: true, min: 1, max: 9999 });
  const cols = num(q, "cols", { optional: true, min: 1, max: 9999 });
  const term = str(q, "term", { optional: true, max: 64 });
  return {
    // No command: a login-like interactive shell (bash where the container has it).
    argv: (argv as string[] | undefined) ?? [
      "/bin/sh",
      "-c",
      "if [ -x /bin/bash ]; then exec /bin/bash -i; else exec /bin/sh -i; fi",
    ],
    tty,
    ...(rows !== undefined ? { rows } : {}),
    ...(cols !== undefined ? { cols } : {}),
    ...(term ? { term } : {}),
  };
}

/** Log subscriptions one connection may hold at once (each is a follower in the log hub). */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 64;

/** Refuses a follow past MAX_SUBSCRIPTIONS_PER_CONNECTION: a client cannot grow the log hub's followers. */
function roomToFollow(peer: Peer): void {
  if (peer.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION)
    throw new ApiError(
      "failed_precondition",
      `this connection follows ${peer.subscriptions.size} logs, the most it may: unsubscribe from one (logs.unsubscribe) first`,
    );
}

/** Web endpoint functions are called over HTTP by the gateway only. */
function notWeb(d: HandlerDeps, functionId: string): string {
  const fn = d.engine.functionView(functionId);
  if (fn?.spec.web)
    throw invalid(
      `${fn.appName}.${fn.name} is a web endpoint: request ${d.gateway.urlsOfFunction(functionId)?.url ?? "its URL"}`,
    );
  return functionId;
}

export const handlers: HandlerTable = {
  ...objectHandlers,
  async "blob.put"(peer, p, d) {
    const r = await d.blobTransfer.put(peer, p);
    peer.principal?.blobGrants?.add(r.blobId); // a container reads back what it uploaded
    return r;
  },
  "blob.append": (peer, p, d) => d.blobTransfer.append(peer, p),
  // Two parts at a time per connection (peer.ts): a client asking for many and reading none
  // holds little more than its queue cap here.
  "blob.get": (peer, p, d) => {
    const grants = peer.principal?.blobGrants;
    if (grants && !grants.has(p.blobId)) {
      // Not in memory: a scoped token's grant may be in the store (given before a restart).
      return grants.recall(String(p.blobId)).then((granted) => {
        if (!granted) throw blobRefused(peer.principal!, String(p.blobId), "blob.get");
        return peer.throttle(() => d.blobTransfer.get(p));
      });
    }
    return peer.throttle(() => d.blobTransfer.get(p));
  },
  async "app.publish"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    str(q, "name", { max: 64 });
    await d.environments.require(env(q));
    str(q, "bundleBlobId", { max: 80 });
    await prepareImages(p.functions, d.images, d.blobs);
    const r = await d.apps.publish(p, peer.sessionId);
    d.gateway.invalidate();
    // Web endpoints learn their URL in the reply (what `skiff deploy` prints, getWebUrl() returns).
    for (const info of r.functions) {
      const label = p.functions.find((f) => f.name === info.name)?.web?.label;
      const url = d.gateway.urlOf(info.appName, label, p.mode);
      if (url) info.webUrl = url;
    }
    return d.store.flush().then(() => r);
  },
  "image.build"(peer, p, d) {
    return buildImage(peer, p, d.images, d.blobs);
  },
  "image.list"(_peer, _p, d) {
    return builderOf(d.images).list(imagesInUse(d.engine));
  },
  "image.prune"(_peer, _p, d) {
    return builderOf(d.images).prune(new Set(imagesInUse(d.engine).keys()));
  },
  async "app.stop"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    env(q);
    str(q, "appId", { optional: true, max: 64 });
    str(q, "name", { optional: true, max: 64 });
    if (!p.appId && !p.name) throw invalid("app.stop needs appId or name");
    const r = await d.apps.stop(p);
    return d.store.flush().then(() => r);
  },
  async "app.list"(peer, p, d) {
    const apps = await d.apps.list(env(p as unknown as Record<string, unknown>));
    return { apps: apps.filter((a) => seesApp(peer.principal!, a.name)) };
  },
  async "app.history"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    return { deployments: await d.apps.history(str(q, "name", { max: 64 }), env(q)) };
  },
  async "app.logs"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const app = await d.apps.resolveApp(
      str(q, "appId", { optional: true, max: 64 }),
      str(q, "name", { optional: true, max: 64 }),
      env(q),
    );
    const tail = num(q, "tail", { min: 0, max: 10_000 });
    const entries = tail > 0 ? await d.store.tailLogs(app.id, tail) : [];
    if (!bool(q, "follow", false)) return { entries };
    roomToFollow(peer);
    const subscriptionId = `ls-${app.id}-${Math.random().toString(36).slice(2)}`;
    const stop = d.logs.follow(app.id, (entry) => peer.send("log", { subscriptionId, entry }));
    peer.cleanups.add(stop);
    peer.subscriptions.set(subscriptionId, stop);
    return { entries, subscriptionId };
  },
  "logs.unsubscribe"(peer, p) {
    const stop = peer.subscriptions.get(p.subscriptionId);
    if (stop) {
      stop();
      peer.subscriptions.delete(p.subscriptionId);
      peer.cleanups.delete(stop);
    }
    return {};
  },
  "function.stats"(_peer, p, d) {
    return d.engine.stats(str(p as unknown as Record<string, unknown>, "functionId", { max: 64 }));
  },
  async "function.lookup"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const info = await d.apps.lookup(str(q, "appName", { max: 64 }), str(q, "name", { max: 64 }), env(q));
    const urls = d.gateway.urlsOfFunction(info.functionId);
    return urls ? { ...info, webUrl: urls.url } : info;
  },
  async "function.get"(_peer, p, d) {
    const functionId = str(p as unknown as Record<string, unknown>, "functionId", { max: 120 });
    const info = await d.apps.get(functionId);
    const urls = d.gateway.urlsOfFunction(info.functionId);
    return urls ? { ...info, webUrl: urls.url } : info;
  },
  async "function.updateAutoscaler"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const functionId = str(q, "functionId", { max: 120 });
    const r = await d.apps.updateAutoscaler(functionId, obj(q.settings, "settings"));
    await d.store.flush();
    return r;
  },
  "app.show"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    return d.apps.show(str(q, "name", { max: 64 }), env(q));
  },
  "function.bind"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const functionId = str(q, "functionId", { max: 120 });
    const params = obj(q.params, "params");
    const options = q.options === undefined ? {} : obj(q.options, "options");
    return d.apps.bindInstance(functionId, params, options);
  },
  "call.create"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const functionId = notWeb(d, str(q, "functionId", { max: 64 }));
    if (p.kind !== "remote" && p.kind !== "spawn") throw invalid(`kind must be "remote" or "spawn"`);
    const args = payload(q, "args");
    const idempotencyKey = str(q, "idempotencyKey", { max: 128 });
    // Judged as the request arrives, before any await: keys are claimed in arrival order.
    const fresh = peer.callKeys.claim(idempotencyKey);
    const parentInputId = str(q, "parentInputId", { optional: true, max: 64 });
    const wait = bool(q, "await", false);
    const method = str(q, "method", { optional: true, max: 64 });
    const call: NewCall = { functionId, kind: p.kind, args, idempotencyKey, fresh, parentInputId, method };
    if (typeof args === "object" && "blob" in args) {
      return d.blobs.size(args.blob).then((size) => {
        if (size === undefined) throw invalid(`args blob ${args.blob} was not uploaded`);
        return d.engine.createCall(call).then((c) => callMade(peer, d, wait, c));
      });
    }
    // Inline args, a fresh key, a loaded function (a warm `.remote`): queued now, in the turn
    // the request is read, not after promise turns; otherwise the store is read first.
    const now = d.engine.createCallNow(call);
    return now ? callMade(peer, d, wait, now) : d.engine.createCall(call).then((c) => callMade(peer, d, wait, c));
  },
  async "gen.start"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const functionId = notWeb(d, str(q, "functionId", { max: 64 }));
    const args = payload(q, "args");
    const idempotencyKey = str(q, "idempotencyKey", { max: 128 });
    const parentInputId = str(q, "parentInputId", { optional: true, max: 64 });
    const method = str(q, "method", { optional: true, max: 64 });
    await d.engine.load(functionId);
    // The stream goes to this connection only: when it closes, the generator is cancelled.
    const tie = tieToPeer(peer, d, peer.streams);
    const r = d.engine.startStream({ functionId, args, idempotencyKey, parentInputId, method }, (items, end) => {
      peer.send("gen.stream", { callId: r.callId, items, ...(end ? { end } : {}) });
      if (end) tie.release();
    });
    tie.bind(r.callId);
    return r;
  },
  async "map.start"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const functionId = notWeb(d, str(q, "functionId", { max: 64 }));
    str(q, "idempotencyKey", { max: 128 });
    const parentInputId = str(q, "parentInputId", { optional: true, max: 64 });
    const method = str(q, "method", { optional: true, max: 64 });
    await d.engine.load(functionId);
    // A map's inputs live with its caller: when its connection goes, the map waits for
    // map.resume (see engine/map-resume.ts) and is cancelled if nobody takes it back.
    const sink = mapSink(peer, () => r.callId, q.columns === true, q.packed === true);
    const tie = tieMapToPeer(peer, d, sink);
    const r = d.engine.startMap({ functionId, idempotencyKey: p.idempotencyKey, parentInputId, method }, sink, () =>
      tie.release(),
    );
    tie.bind(r.callId);
    // Its row is durable before the caller hears of the map: a restart cannot forget it.
    await d.engine.mapsDurable();
    return { ...r, columns: true, packed: true };
  },
  async "map.resume"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const callId = str(q, "callId", { max: 64 });
    const sink = mapSink(peer, () => callId, q.columns === true, q.packed === true);
    const tie = tieMapToPeer(peer, d, sink);
    const r = await d.engine.resumeMap(callId, sink, () => tie.release());
    tie.bind(callId);
    await d.engine.mapsDurable();
    return { window: r.window, columns: true, packed: true };
  },
  "map.put"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const callId = str(q, "callId", { max: 64 });
    if (!peer.maps.has(callId)) throw notFound(`no map ${callId} on this connection`);
    if (p.idxs !== undefined || p.args !== undefined) {
      // As columns: no object per input.
      const { idxs } = p;
      if (!Array.isArray(idxs) || idxs.length === 0) throw invalid("idxs must be a non-empty array");
      // A list, or packed (packed.ts).
      const args = unpackPayloads(p.args, idxs.length);
      if (!args)
        throw invalid(
          `args must be an array as long as idxs (${idxs.length}), or {bytes, lens} with that many lengths that add up to its bytes`,
        );
      for (let i = 0; i < idxs.length; i++) {
        const idx = idxs[i];
        if (!Number.isSafeInteger(idx) || (idx as number) < 0) throw invalid(`idxs[${i}] must be an integer ≥ 0`);
        const a: unknown = args[i];
        if (a instanceof Uint8Array) {
          if (a.byteLength > MAX_PAYLOAD_BYTES)
            throw invalid(`args[${i}] is over the ${MAX_PAYLOAD_BYTES}-byte payload limit`);
        } else if (a && typeof a === "object" && typeof (a as { blob?: unknown }).blob === "string")
          args[i] = { blob: (a as { blob: string }).blob };
        else throw invalid(`args[${i}] must be bytes or { blob }`);
      }
      d.engine.putMapInputColumns(callId, idxs, args);
      return {};
    }
    if (!Array.isArray(p.items) || p.items.length === 0) throw invalid("items must be a non-empty array");
    const items = p.items.map((it, i) => {
      const o = obj(it, `items[${i}]`);
      const idx = num(o, "idx", { min: 0, max: Number.MAX_SAFE_INTEGER });
      if (!Number.isInteger(idx)) throw invalid(`items[${i}].idx must be an integer`);
      return { idx, args: payload(o, "args") };
    });
    d.engine.putMapInputs(callId, items);
    return {};
  },
  "map.end"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const callId = str(q, "callId", { max: 64 });
    if (!peer.maps.has(callId)) throw notFound(`no map ${callId} on this connection`);
    d.engine.endMap(callId, num(q, "total", { min: 0, max: Number.MAX_SAFE_INTEGER }));
    return {};
  },
  "call.get"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const callId = str(q, "callId", { max: 64 });
    const timeoutMs = num(q, "timeoutMs", { optional: true, min: 0, max: 7 * 24 * 3600 * 1000 });
    return awaitForPeer(peer, d, callId, timeoutMs, (_, outcome) => {
      if (!outcome) throw new ApiError("timeout", `call ${callId} has no result yet (waited ${timeoutMs} ms)`);
      return { outcome };
    });
  },
  async "call.graph"(_peer, p, d) {
    return { inputs: await d.engine.callGraph(str(p as unknown as Record<string, unknown>, "callId", { max: 64 })) };
  },
  async "call.cancel"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    await d.engine.cancelCall(str(q, "callId", { max: 64 }), bool(q, "terminateContainers", false));
    await d.store.flush();
    return {};
  },
  async "secret.create"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const name = str(q, "name", { max: 64 });
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
      throw invalid(`secret name ${JSON.stringify(name)} is invalid`);
    const environment = env(q);
    await d.environments.require(environment);
    const values = stringRecord(q, "values");
    if (Object.keys(values).length === 0) throw invalid("a secret needs at least one KEY=VALUE");
    if (!bool(q, "overwrite", false) && (await d.store.getSecret(environment, name))) {
      throw new ApiError("already_exists", `secret "${name}" already exists (pass --force to replace it)`);
    }
    d.store.upsertSecret(environment, name, values);
    return d.store.flush().then(() => ({}));
  },
  async "secret.list"(_peer, p, d) {
    return { secrets: await d.store.listSecrets(env(p as unknown as Record<string, unknown>)) };
  },
  async "secret.delete"(_peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const name = str(q, "name", { max: 64 });
    if (!(await d.store.deleteSecret(env(q), name))) throw notFound(`no secret "${name}"`);
    return d.store.flush().then(() => ({}));
  },
  "web.url"(_peer, p, d) {
    const functionId = str(p as unknown as Record<string, unknown>, "functionId", { max: 64 });
    const urls = d.gateway.urlsOfFunction(functionId);
    if (!urls) throw notFound(`function ${functionId} is not a running web endpoint`);
    return { url: urls.url };
  },
  "container.list"(peer, p, d) {
    const containers = d.execs.list(env(p as unknown as Record<string, unknown>));
    return { containers: containers.filter((c) => seesApp(peer.principal!, c.appName)) };
  },
  async "container.logs"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    const c = d.execs.container(str(q, "containerId", { max: 64 }));
    const tail = num(q, "tail", { min: 0, max: 10_000 });
    // The app's lines are kept (newest 10 000); this container's are among them.
    const entries = tail > 0 ? (await d.store.tailLogs(c.fn.appId, 10_000)).filter((e) => e.containerId === c.id) : [];
    const out = entries.slice(Math.max(0, entries.length - tail));
    if (!bool(q, "follow", false)) return { entries: out };
    roomToFollow(peer);
    const subscriptionId = `ls-${c.id}-${Math.random().toString(36).slice(2)}`;
    const stop = d.logs.follow(c.fn.appId, (entry) => {
      if (entry.containerId === c.id) peer.send("log", { subscriptionId, entry });
    });
    peer.cleanups.add(stop);
    peer.subscriptions.set(subscriptionId, stop);
    return { entries: out, subscriptionId };
  },
  "container.exec"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    return d.execs.exec(peer, str(q, "containerId", { max: 64 }), execSpec(q, true));
  },
  "shell.open"(peer, p, d) {
    const q = p as unknown as Record<string, unknown>;
    return d.execs.shell(peer, str(q, "functionId", { max: 120 }), execSpec(q, false));
  },
  "worker.register": (peer, p, d) => d.workers.register(peer, peer.remoteAddress, p),
  "worker.bundle": (peer, p, d) => d.workers.bundle(peer, p),
  // Large reads, run as blob.get's are: a few at a time per connection, with backpressure.
  "worker.layer": (peer, p, d) => peer.throttle(() => d.workers.layer(peer, p)),
  "worker.volume.manifest": (peer, p, d) => d.workers.volumeManifest(peer, p),
  "worker.volume.read": (peer, p, d) => peer.throttle(() => d.workers.volumeRead(peer, p)),
  "worker.volume.put": (peer, p, d) => d.workers.volumePut(peer, p),
  "worker.volume.commit": (peer, p, d) => d.workers.volumeCommit(peer, p),
  "worker.volume.done": (peer, p, d) => d.workers.volumeDone(peer, p),
  "worker.list": (_peer, _p, d) => ({ workers: d.workers.list() }),
  async "token.create"(_peer, p, d) {
    if (p.kind !== "api" && p.kind !== "web" && p.kind !== "worker")
      throw invalid(`kind must be "api", "web" or "worker"`);
    const q = p as unknown as Record<string, unknown>;
    const ttl = num(q, "expiresInMs", {
      optional: true,
      min: 1000,
      max: 100 * 365 * 24 * 3600 * 1000,
    });
    const scope = await tokenScope(q, d);
    if (scope && p.kind !== "api")
      throw invalid(`--environment and --apps scope API tokens: a ${p.kind} token takes neither`);
    const t = d.tokens.create(p.kind, ttl !== undefined ? Date.now() + ttl : undefined, scope);
    return d.store.flush().then(() => t);
  },
  async "token.list"(_peer, _p, d) {
    return { tokens: await d.tokens.list() };
  },
  async "environment.create"(_peer, p, d) {
    await d.environments.create(str(p as unknown as Record<string, unknown>, "name", { max: 64 }));
    return {};
  },
  async "environment.list"(peer, _p, d) {
    const scope = peer.principal!.scope;
    const all = await d.environments.list();
    return { environments: scope ? all.filter((e) => e.name === scope.environment) : all };
  },
  async "environment.delete"(_peer, p, d) {
    await d.environments.delete(str(p as unknown as Record<string, unknown>, "name", { max: 64 }));
    return {};
  },
  async "token.revoke"(_peer, p, d) {
    const tokenId = str(p as unknown as Record<string, unknown>, "tokenId", { max: 64 });
    if (!(await d.tokens.revoke(tokenId))) throw notFound(`no token ${tokenId} (see \`skiff token list\`)`);
    return {};
  },
};

/** The scope token.create was asked for: --apps alone means environment "main". */
async function tokenScope(
  q: Record<string, unknown>,
  d: HandlerDeps,
): Promise<{ environment: string; apps?: string[] } | undefined> {
  const environment = str(q, "environment", { optional: true, max: 64 });
  let apps: string[] | undefined;
  if (q.apps !== undefined) {
    if (!Array.isArray(q.apps) || q.apps.length === 0 || q.apps.length > 100)
      throw invalid("apps must be a non-empty list of app names (at most 100)");
    apps = q.apps.map((a, i) => {
      if (typeof a !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(a))
        throw invalid(`apps[${i}]: ${JSON.stringify(a)} is not an app name`);
      return a;
    });
  }
  if (environment === undefined && !apps) return undefined;
  const scope = { environment: environment ?? "main", ...(apps ? { apps: [...new Set(apps)] } : {}) };
  await d.environments.require(scope.environment);
  return scope;
}

/** Routes one request after checking the peer may make it. */
export function handleRequest(peer: Peer, msg: RequestMessage, deps: HandlerDeps): unknown {
  const kind = peer.principal!.kind;
  if (peer.role === "container")
    throw new ApiError("permission_denied", "a container connection sends events, not requests");
  if (!Object.hasOwn(handlers, msg.t))
    throw new ApiError("invalid_argument", `unknown request type ${JSON.stringify(msg.t)}`);
  if ((kind === "worker" || peer.role === "worker") !== WORKER_ONLY.has(msg.t))
    throw new ApiError(
      "permission_denied",
      kind === "worker" ? `a worker token cannot ${msg.t}` : `${msg.t} is for worker agents (skiff worker) only`,
    );
  if (kind === "container" && !CONTAINER_ALLOWED.has(msg.t))
    throw new ApiError("permission_denied", `a container token cannot ${msg.t}`);
  if (ADMIN_ONLY.has(msg.t) && kind !== "admin")
    throw new ApiError("permission_denied", `only an admin token can ${msg.t}`);
  obj(msg.p, "params");
  // A container or a scoped token passes on only blobs it was given (auth/blob-grants.ts).
  const grants = peer.principal!.blobGrants;
  if (grants && SENDS_BLOBS.has(msg.t)) {
    const id = ungrantedBlob(grants, msg.p);
    // A scoped token's grants outlive a restart in the store: a miss asks it (rare: memory
    // holds the grants of the tokens used last).
    if (id !== undefined) return recallGrants(peer, grants, msg, id).then(() => routeRequest(peer, msg, deps));
  }
  return routeRequest(peer, msg, deps);
}

/** Refuses the first blob in a request that `grants` holds neither in memory nor in the store. */
async function recallGrants(peer: Peer, grants: BlobGrants, msg: RequestMessage, first: string): Promise<void> {
  for (let id: string | undefined = first; id !== undefined; id = ungrantedBlob(grants, msg.p))
    if (!(await grants.recall(id))) throw blobRefused(peer.principal!, id, msg.t);
}

/** handleRequest, once the blobs a request names are known to be granted. */
function routeRequest(peer: Peer, msg: RequestMessage, deps: HandlerDeps): unknown {
  if (deps.lifecycle.draining && HELD_WHILE_DRAINING.has(msg.t)) return new Promise<never>(() => {});
  const h = handlers[msg.t as keyof HandlerTable] as Handler<RequestName>;
  const principal = peer.principal!;
  // A container's token reaches calls and functions of its own environment only (container-rules.ts).
  const rule =
    principal.kind === "container"
      ? CONTAINER_RULES[msg.t]
      : principal.scope
        ? SCOPE_RULES[msg.t as keyof typeof SCOPE_RULES]
        : undefined;
  if (!rule) return h(peer, msg.p as never, deps);
  // A scoped token's rule first (auth/scope.ts, scope-rules.ts).
  const checked = rule(principal, msg.p as unknown as Record<string, unknown>, deps);
  return checked instanceof Promise ? checked.then(() => h(peer, msg.p as never, deps)) : h(peer, msg.p as never, deps);
}
