import type { RequestName } from "@skiff/protocol";
import { checkApp, checkEnvironment, checkUnscoped, checkWrite } from "../auth/scope.js";
import type { Principal } from "../auth/tokens.js";
import { callOwner } from "./container-rules.js";
import type { HandlerDeps } from "./handlers.js";

type Params = Record<string, unknown>;
/** Checks one request of a scoped token before it runs; throws permission_denied. */
type Rule = (p: Principal, q: Params, d: HandlerDeps) => void | Promise<void>;

const text = (q: Params, key: string): string | undefined => (typeof q[key] === "string" ? q[key] : undefined);
const none: Rule = () => {};
const environment: Rule = (p, q) => checkEnvironment(p, text(q, "environment") ?? "");
/** Not for scoped tokens at all (environments are managed by unscoped ones). */
const unscopedOnly =
  (what: string): Rule =>
  (p) =>
    checkUnscoped(p, what);
/** A change to the environment's secrets: an app-scoped token makes none. */
const secretWrite: Rule = (p, q) => {
  checkEnvironment(p, text(q, "environment") ?? "");
  checkWrite(p, "change secrets");
};

/** A request naming a function by id: the function's app must be in scope. */
const byFunction =
  (action: string, key = "functionId"): Rule =>
  async (p, q, d) => {
    const id = text(q, key) ?? "";
    await d.engine.load(id);
    const fn = d.engine.functionView(id);
    if (fn) checkApp(p, fn.environment, fn.appName, action); // unknown: the handler says not_found
  };

/**
 * A request naming a call: the app of the call's function must be in scope. A call whose
 * function is gone (its app stopped) cannot be placed in a scope: only unscoped tokens reach it.
 */
const byCall: Rule = async (p, q, d) => {
  const id = text(q, "callId") ?? "";
  const fn = await callOwner(id, d);
  if (fn === "gone") checkUnscoped(p, `reach call ${id}: its function is no longer deployed`);
  else if (fn) checkApp(p, fn.environment, fn.appName, `reach call ${id} of`);
};

/** A request naming an app by name or id. */
const byApp =
  (action: string): Rule =>
  async (p, q, d) => {
    const env = text(q, "environment") ?? "";
    checkEnvironment(p, env);
    const appId = text(q, "appId");
    if (appId) {
      const row = await d.store.getApp(appId);
      if (row) checkApp(p, row.environment, row.name, action);
    }
    const name = text(q, "name");
    if (name !== undefined) checkApp(p, env, name, action);
  };

/** A request naming a running container. */
const byContainer =
  (action: string): Rule =>
  (p, q, d) => {
    const c = d.engine.container(text(q, "containerId") ?? "");
    if (c) checkApp(p, c.fn.environment, c.fn.appName, action);
  };

/** A write to an object by id: an app-scoped token writes only ephemeral objects. */
const objectWrite =
  (action: string): Rule =>
  async (p, q, d) => {
    if (!p.scope?.apps) return;
    const row = await d.objects.registry.row(text(q, "objectId") ?? "");
    if (row?.name != null) checkWrite(p, `${action} "${row.name}"`);
  };

/**
 * Every request's check for a scoped token (auth/scope.ts), in one table: a request added to
 * the protocol does not compile until it is given one here. Containers (container-rules.ts),
 * workers and unscoped tokens never come here (they carry no scope); objects resolved by id
 * are held to the token's environment by the object registry (object-handlers.ts callerOf).
 */
export const SCOPE_RULES: { [N in Exclude<RequestName, "hello">]: Rule } = {
  // A scoped token reads and passes on only blobs it was sent or uploaded (its grants, checked
  // for every such token in handlers.ts; auth/blob-grants.ts).
  "blob.put": none,
  "blob.append": none,
  "blob.get": none,
  "app.publish": (p, q) => checkApp(p, text(q, "environment") ?? "", text(q, "name") ?? "", "deploy"),
  "app.stop": byApp("stop"),
  "app.list": environment, // and filtered to its apps (handlers.ts)
  "app.history": byApp("see"),
  "app.show": byApp("see"),
  "app.logs": byApp("read the logs of"),
  "logs.unsubscribe": none,
  "image.build": none,
  "image.list": none,
  "image.prune": none, // admin only
  "function.lookup": (p, q) => checkApp(p, text(q, "environment") ?? "", text(q, "appName") ?? "", "call"),
  "function.get": byFunction("call"),
  "function.stats": byFunction("see"),
  "function.bind": byFunction("call"),
  "function.updateAutoscaler": byFunction("change"),
  "call.create": byFunction("call"),
  "gen.start": byFunction("call"),
  "map.start": byFunction("call"),
  "map.resume": byCall,
  "map.put": none, // the map belongs to this connection
  "map.end": none,
  "call.get": byCall,
  "call.graph": byCall,
  "call.cancel": byCall,
  "web.url": byFunction("see"),
  "secret.create": secretWrite,
  "secret.list": environment,
  "secret.delete": secretWrite,
  "container.list": environment, // and filtered to its apps (handlers.ts)
  "container.logs": byContainer("read the logs of"),
  "container.exec": byContainer("run commands in"),
  "shell.open": byFunction("open a shell in"),
  "worker.register": none, // worker tokens only
  "worker.bundle": none,
  "worker.layer": none,
  "worker.volume.manifest": none,
  "worker.volume.read": none,
  "worker.volume.put": none,
  "worker.volume.commit": none,
  "worker.volume.done": none,
  "worker.list": none, // admin only
  "token.create": none, // admin only
  "token.list": none,
  "token.revoke": none,
  "environment.create": unscopedOnly("create environments"),
  "environment.delete": unscopedOnly("delete environments"),
  "environment.list": none, // filtered to its environment (handlers.ts)
  "object.get": async (p, q, d) => {
    const env = text(q, "environment") ?? "";
    checkEnvironment(p, env);
    if (!p.scope?.apps || q.createIfMissing !== true) return;
    const name = text(q, "name") ?? "";
    if (!(await d.objects.registry.find(env, name))) checkWrite(p, `create "${name}"`);
  },
  "object.ephemeral": environment,
  "object.list": environment,
  "object.delete": async (p, q, d) => {
    checkEnvironment(p, text(q, "environment") ?? "");
    const name = text(q, "name");
    if (name) checkWrite(p, `delete "${name}"`);
    else await objectWrite("delete")(p, q, d);
  },
  "dict.put": objectWrite("write Dict"),
  "dict.update": objectWrite("write Dict"),
  "dict.get": none,
  "dict.has": none,
  "dict.delete": objectWrite("delete from Dict"),
  "dict.len": none,
  "dict.scan": none,
  "dict.clear": objectWrite("clear Dict"),
  "queue.put": objectWrite("put to Queue"),
  "queue.get": objectWrite("take from Queue"),
  "queue.len": none,
  "queue.clear": objectWrite("clear Queue"),
  "volume.list": none,
  "volume.stat": none,
  // Only content of the volume named, which the registry holds to the environment (object-handlers.ts).
  "volume.read": none,
  "volume.upload.start": objectWrite("write Volume"),
  "volume.upload.chunk": none, // needs an upload that upload.start allowed
  "volume.upload.end": none,
  "volume.put": objectWrite("write Volume"),
  "volume.remove": objectWrite("remove from Volume"),
  "volume.copy": objectWrite("copy in Volume"),
  "volume.commit": none, // containers only
  "volume.reload": none,
};
