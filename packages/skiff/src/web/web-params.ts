import { WEB_LABEL, WEB_METHODS, type WebKind, type WebMethod, type WebSpec } from "@skiff/protocol";
import { InvalidError } from "../errors.js";
import type { FunctionParams } from "../function-options.js";
import { isStandardSchema, type StandardSchemaV1 } from "./standard-schema.js";

/** Options every web endpoint takes, beside the function options that make sense for one. */
export interface WebAppParams extends Omit<FunctionParams, "schedule" | "retries"> {
  /**
   * The URL label: `http://<app>--<label>.localhost:<port>` and `/web/<app>/<label>`.
   * Lowercase letters, digits and single hyphens. @defaultValue the function's name, lowercased,
   * with "_" turned into "-"
   */
  label?: string;
  /** Wait for the response (up to the server's cap, then 303 to a result URL), else 202 at once. @defaultValue true */
  waitForResponse?: boolean;
  /** Demand an endpoint token (`skiff token new --web`) in the request headers. @defaultValue false */
  requiresAuth?: boolean;
}

/** Options of `app.webEndpoint`. */
export interface WebEndpointParams<S extends StandardSchemaV1 | undefined = StandardSchemaV1 | undefined>
  extends WebAppParams {
  /** The one method accepted; GET takes the query string, the others a JSON body. @defaultValue "GET" */
  method?: WebMethod;
  /** A Standard Schema (zod, valibot, …) that validates and converts the input; a bad one is a 400. */
  schema?: S;
}

const WEB_KEYS = ["label", "waitForResponse", "requiresAuth", "method", "schema"];

/** The label a function gets when none is given: "sendEmail" → "sendemail", "my_fn" → "my-fn". */
export function defaultLabel(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
}

export function checkLabel(where: string, label: string): string {
  if (!WEB_LABEL.test(label) || label.endsWith("-dev")) {
    throw new InvalidError(
      `${where}: label ${JSON.stringify(label)} is invalid: use lowercase letters, digits and single hyphens (up to 63), not ending in "-dev" (kept for ephemeral apps)`,
    );
  }
  return label;
}

/**
 * Splits web params into the web spec (label resolved later, from the name) and the function
 * options, checking both.
 */
export function splitWebParams(
  where: string,
  kind: WebKind,
  params: WebEndpointParams,
): {
  web: Omit<WebSpec, "label"> & { label: string | undefined };
  schema: StandardSchemaV1 | undefined;
  fnParams: FunctionParams;
} {
  if (params === null || typeof params !== "object") throw new InvalidError(`${where}: options must be an object`);
  const p = params as Record<string, unknown>;
  if (kind !== "endpoint") {
    for (const k of ["method", "schema"])
      if (p[k] !== undefined) throw new InvalidError(`${where}: "${k}" is an option of webEndpoint only`);
  }
  for (const k of ["schedule", "retries"])
    if (p[k] !== undefined) throw new InvalidError(`${where}: web endpoints take no "${k}" option`);
  const fnParams: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (!WEB_KEYS.includes(k)) fnParams[k] = v;
  const c = p.concurrency as { threads?: unknown } | undefined;
  if (c?.threads === true)
    throw new InvalidError(
      `${where}: web endpoints run on the container's event loop (concurrency.threads must not be set)`,
    );
  let method: WebMethod | undefined;
  if (kind === "endpoint") {
    const m = p.method === undefined ? "GET" : p.method;
    if (typeof m !== "string" || !(WEB_METHODS as readonly string[]).includes(m.toUpperCase()))
      throw new InvalidError(`${where}: method must be one of ${WEB_METHODS.join(", ")}, got ${JSON.stringify(m)}`);
    method = m.toUpperCase() as WebMethod;
  }
  for (const k of ["waitForResponse", "requiresAuth"])
    if (p[k] !== undefined && typeof p[k] !== "boolean") throw new InvalidError(`${where}: ${k} must be a boolean`);
  if (p.label !== undefined && typeof p.label !== "string") throw new InvalidError(`${where}: label must be a string`);
  if (typeof p.label === "string") checkLabel(where, p.label);
  if (p.schema !== undefined && !isStandardSchema(p.schema))
    throw new InvalidError(
      `${where}: schema must be a Standard Schema validator (zod, valibot, … with a "~standard" property)`,
    );
  return {
    web: {
      kind,
      label: p.label as string | undefined,
      ...(method ? { method } : {}),
      waitForResponse: (p.waitForResponse as boolean | undefined) ?? true,
      requiresAuth: (p.requiresAuth as boolean | undefined) ?? false,
    },
    schema: p.schema as StandardSchemaV1 | undefined,
    fnParams: fnParams as FunctionParams,
  };
}
