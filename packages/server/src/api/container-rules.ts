import type { RequestName } from "@skiff/protocol";
import type { Principal } from "../auth/tokens.js";
import type { ContainerView, FunctionView } from "../engine/model.js";
import { ApiError } from "./api-error.js";
import type { HandlerDeps } from "./handlers.js";

type Params = Record<string, unknown>;
/** Checks one request of a container's token before it runs; throws permission_denied. */
type Rule = (p: Principal, q: Params, d: HandlerDeps) => void | Promise<void>;

const text = (q: Params, key: string): string => (typeof q[key] === "string" ? q[key] : "");

/** The container a container token belongs to; permission_denied once it has stopped. */
export function containerOf(p: Principal, d: HandlerDeps): ContainerView {
  const c = d.engine.container(p.containerId ?? "");
  if (!c) throw new ApiError("permission_denied", "this container is no longer running");
  return c;
}

function refused(c: ContainerView, what: string): ApiError {
  return new ApiError(
    "permission_denied",
    `container ${c.id} (app "${c.fn.appName}" of environment "${c.fn.environment}") cannot reach ${what}: a container reaches only calls and functions of its own environment`,
  );
}

function checkFunction(c: ContainerView, fn: FunctionView, what: string): void {
  if (fn.environment !== c.fn.environment)
    throw refused(c, `${what} ${fn.appName}.${fn.name} of environment "${fn.environment}"`);
}

/**
 * A request naming a function by id. Synchronous for a function in memory: a container's warm
 * `.remote` (call.create) costs two map lookups here and no promise turn.
 */
const byFunction =
  (what: string): Rule =>
  (p, q, d) => {
    const c = containerOf(p, d);
    const id = text(q, "functionId");
    const fn = d.engine.functionView(id);
    if (fn) return checkFunction(c, fn, what);
    return d.engine.load(id).then(() => {
      const loaded = d.engine.functionView(id);
      if (loaded) checkFunction(c, loaded, what); // unknown: the handler says not_found
    });
  };

/**
 * A request naming a call: the call's function must be of the container's environment. A call
 * that exists but whose function is gone (its app stopped) cannot be placed: refused.
 */
const byCall: Rule = async (p, q, d) => {
  const c = containerOf(p, d);
  const id = text(q, "callId");
  const owner = await callOwner(id, d);
  if (owner === "gone") throw refused(c, `call ${id}, whose function is no longer deployed,`);
  if (owner) checkFunction(c, owner, `call ${id} of`);
};

/**
 * The function a call runs: undefined for no such call (the handler says not_found), "gone" for
 * a stored call whose function is no longer deployed (its environment cannot be told).
 */
export async function callOwner(callId: string, d: HandlerDeps): Promise<FunctionView | "gone" | undefined> {
  const fn = await d.engine.callFunction(callId);
  if (fn) return fn;
  return (await d.store.getCall(callId)) ? "gone" : undefined;
}

type ContainerRequest =
  | "function.lookup"
  | "function.get"
  | "function.bind"
  | "call.create"
  | "gen.start"
  | "map.start"
  | "map.resume"
  | "map.put"
  | "map.end"
  | "call.get"
  | "call.graph"
  | "call.cancel"
  | "web.url";

/**
 * What a container's token may reach of calls and functions (docs/security.md): those of its own
 * environment, whichever app made them. Every request a container may make that names a call
 * or a function is here (the type lists them; handlers.ts CONTAINER_ALLOWED must agree). Objects
 * are held to its environment by the object registry (object-handlers.ts callerOf), blobs by
 * its grants (auth/blob-grants.ts).
 */
export const CONTAINER_RULES: { [N in ContainerRequest]: Rule } & Partial<Record<RequestName, Rule>> = {
  "function.lookup": (p, q, d) => {
    const c = containerOf(p, d);
    const env = text(q, "environment");
    if (env !== c.fn.environment) throw refused(c, `app "${text(q, "appName")}" of environment "${env}"`);
  },
  "function.get": byFunction("function"),
  "function.bind": byFunction("class"),
  "call.create": byFunction("function"),
  "gen.start": byFunction("function"),
  "map.start": byFunction("function"),
  "map.resume": byCall,
  "map.put": () => {}, // the map belongs to this connection (handlers.ts peer.maps)
  "map.end": () => {},
  "call.get": byCall,
  "call.graph": byCall,
  "call.cancel": byCall,
  "web.url": byFunction("web endpoint"),
};
