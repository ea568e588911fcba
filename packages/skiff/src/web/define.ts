import type { WebKind, WebRequestWire } from "@skiff/protocol";
import type { App } from "../app.js";
import { currentInput } from "../context.js";
import { InvalidError } from "../errors.js";
import { Function_ } from "../function.js";
import { normalizeFunctionOptions } from "../function-options.js";
import { needNode } from "../platform.js";
import { _setWebDirect, _setWebSpec } from "./registry.js";
import { closeRequestBody } from "./request-body.js";
import type { WebItem } from "./response-items.js";
import { type EndpointHandler, endpointResponse, serveEndpoint } from "./serve-endpoint.js";
import type { FetchHandler } from "./serve-fetch.js";
import type { NodeApp } from "./serve-node.js";
import { WebEndpoint } from "./web-endpoint.js";
import { splitWebParams, type WebEndpointParams } from "./web-params.js";

type Serve =
  | { kind: "endpoint"; handler: EndpointHandler }
  | { kind: "fetch"; factory: () => FetchHandler }
  | { kind: "node"; factory: () => NodeApp };

/**
 * Defines a web endpoint: an app function, shaped as a generator, whose one argument is the
 * request and whose items are the response (head, then body chunks). The gateway calls it;
 * user code never sees that shape.
 */
export function defineWeb(app: App, params: WebEndpointParams, serve: Serve): WebEndpoint {
  const kind: WebKind = serve.kind;
  const method = { endpoint: "webEndpoint", fetch: "fetchApp", node: "nodeHttpApp" }[kind];
  const fnOrFactory = serve.kind === "endpoint" ? serve.handler : serve.factory;
  if (typeof fnOrFactory !== "function")
    throw new InvalidError(
      `app.${method}: expected ${kind === "endpoint" ? "a handler function" : "a function that returns the handler"}, got ${typeof fnOrFactory}`,
    );
  const where = `app "${app.name}" ${method} ${params?.name ?? params?.label ?? (fnOrFactory.name || "<anonymous>")}`;
  const { web, schema, fnParams } = splitWebParams(where, kind, params);
  const options = normalizeFunctionOptions(where, fnParams);

  // fetchApp / nodeHttpApp build their handler once per container, on the first request.
  let built: FetchHandler | NodeApp | undefined;
  const handler = (): FetchHandler | NodeApp => {
    if (built) return built;
    const h = (fnOrFactory as () => unknown)();
    // nodeHttpApp's factory may return an http.Server that is not listening (api.md §4).
    const isServer = kind === "node" && isHttpServer(h);
    if (typeof h !== "function" && !isServer)
      throw new InvalidError(
        `${where}: the factory must return a handler function${kind === "node" ? " or an http.Server" : ""}, it returned ${typeof h}`,
      );
    built = h as FetchHandler | NodeApp;
    return built;
  };

  async function* webRequest(w: WebRequestWire): AsyncGenerator<WebItem> {
    const input = currentInput();
    // Only whole apps get the signal: making one is measurable per request, and endpoints need none.
    const signal = () => input?.signal ?? new AbortController().signal;
    const ids = { callId: input?.functionCallId ?? "", inputId: input?.id ?? "" };
    if (w.body.kind === "stream" && (input?.attempt ?? 1) > 1) {
      // The body was streamed to an attempt whose container was lost: it cannot be replayed.
      throw new Error("the request body went to an earlier attempt that was lost; retry the request");
    }
    try {
      if (serve.kind === "endpoint") {
        const out = await serveEndpoint(w, serve.handler, schema);
        if (out instanceof Response) yield* endpointResponse(out, w.requestId);
        else yield out;
      } else if (serve.kind === "fetch")
        yield* needNode(`serving ${where}`).serveFetch(w, handler() as FetchHandler, ids, signal());
      else yield* needNode(`serving ${where}`).serveNode(w, handler() as NodeApp, ids, signal());
    } finally {
      closeRequestBody(ids.inputId);
    }
  }

  const f = Function_._define(app, webRequest, options, fnParams.name) as unknown as Function_;
  _setWebSpec(f, { ...web, label: web.label ?? "" });
  if (serve.kind === "endpoint") {
    const { handler: endpointHandler } = serve;
    // The container runtime's way in for a webEndpoint (registry.ts): its usual answer, one
    // whole item, with no generator around it. A Response to stream, or a body that streams
    // in, takes the generator's way as before.
    _setWebDirect(f, (w) => {
      if (w.body.kind === "stream") return webRequest(w);
      const out = serveEndpoint(w, endpointHandler, schema);
      if (out instanceof Promise)
        return out.then((o) => (o instanceof Response ? endpointResponse(o, w.requestId) : o));
      return out instanceof Response ? endpointResponse(out, w.requestId) : out;
    });
  }
  app._functions.push(f);
  return new WebEndpoint(f);
}

/** An http.Server (or https, or anything that takes 'request' events as one does). */
function isHttpServer(h: unknown): boolean {
  return (
    typeof h === "object" &&
    h !== null &&
    typeof (h as { emit?: unknown }).emit === "function" &&
    typeof (h as { listenerCount?: unknown }).listenerCount === "function" &&
    typeof (h as { listen?: unknown }).listen === "function"
  );
}
