import type { WebSpec } from "@skiff/protocol";
import type { Function_ } from "../function.js";

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
