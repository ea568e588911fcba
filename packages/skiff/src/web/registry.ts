import type { WebRequestWire, WebSpec } from "@skiff/protocol";
import type { Function_ } from "../function.js";
import type { WebItem } from "./response-items.js";

/**
 * Web configuration of functions defined by webEndpoint / fetchApp / nodeHttpApp, kept beside
 * the Function_ rather than in it: a web endpoint is an ordinary (generator) function to the
 * rest of the SDK and to the container runtime.
 */
const specs = new WeakMap<object, WebSpec>();

export function _setWebSpec(fn: Function_, spec: WebSpec): void {
  specs.set(fn, spec);
}

/** The web configuration of a function, if it is a web endpoint. */
export function _webSpecOf(fn: Function_): WebSpec | undefined {
  return specs.get(fn);
}

/**
 * A web request served without a generator (webEndpoint): the response's one whole item, or,
 * when it streams, the items to drain as a generator's; either may come as a promise.
 */
export type WebDirect = (
  w: WebRequestWire,
) => WebItem | AsyncIterator<WebItem> | Promise<WebItem | AsyncIterator<WebItem>>;

const directs = new WeakMap<object, WebDirect>();

export function _setWebDirect(fn: Function_, direct: WebDirect): void {
  directs.set(fn, direct);
}

/** The direct way to serve a web function's requests, if it has one (the container runtime's). */
export function _webDirectOf(fn: Function_): WebDirect | undefined {
  return directs.get(fn);
}
