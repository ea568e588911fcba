import type { FunctionInfo, FunctionSpec } from "@skiff/protocol";
import { callSite } from "./call-site.js";
import { type ClassDef, classDefOf, classSpec, collectMembers, registerClass } from "./class-def.js";
import type { Client } from "./client.js";
import { standardContext } from "./decorators.js";
import { InvalidError } from "./errors.js";
import { type AnyFunction, type BatchedFunction, Function_, isGeneratorFunction, type Unbatched } from "./function.js";
import { type BatchingParams, type FunctionParams, normalizeFunctionOptions } from "./function-options.js";
import {
  _webSpecOf,
  checkLabel,
  defaultLabel,
  defineWeb,
  type EndpointHandler,
  type FetchHandler,
  type InferSchemaOutput,
  type NodeHandler,
  type StandardSchemaV1,
  type WebAppParams,
  WebEndpoint,
  type WebEndpointParams,
  type WebRequestInfo,
} from "./web/index.js";

/** Options of `@app.cls(options)`: a function's options, less the schedule (a class has no entry point). */
export type ClsParams = Omit<FunctionParams, "schedule">;

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** An app: a named group of functions deployed and run together. */
export class App {
  readonly name: string;
  /** Internal: functions in definition order. */
  readonly _functions: Function_[] = [];
  /** Internal: classes in definition order. */
  readonly _classes: ClassDef[] = [];
  /** Internal: the `localEntrypoint`, if any. */
  _entrypoint: (() => unknown) | undefined;

  constructor(name: string) {
    if (typeof name !== "string" || !APP_NAME.test(name)) {
      throw new InvalidError(`app name ${JSON.stringify(name)} is invalid: use letters, digits, "_" and "-", up to 64`);
    }
    this.name = name;
  }

  /**
   * Defines a function. Its name is `options.name`, else the name it is exported under.
   * With `batched`, the function takes arrays of inputs (one per parameter) and returns one
   * output per input; its handle is typed and called with single inputs.
   */
  function<F extends AnyFunction>(fn: F): Function_<F>;
  function<F extends BatchedFunction>(
    options: FunctionParams & { batched: BatchingParams },
    fn: F,
  ): Function_<Unbatched<F>, F>;
  function<F extends AnyFunction>(options: FunctionParams & { batched?: undefined }, fn: F): Function_<F>;
  function<F extends AnyFunction>(a: F | FunctionParams, b?: F): Function_<F> {
    const [options, fn] = typeof a === "function" ? [{} as FunctionParams, a] : [a, b];
    if (typeof fn !== "function") throw new InvalidError(`app.function: expected a function, got ${typeof fn}`);
    // An arrow passed straight in has no name yet (its export name is found later): name it by
    // where it is defined, so an error says which one.
    const where = `app "${this.name}" function ${options.name ?? (fn.name || `defined at ${callSite() ?? "an unknown place"}`)}`;
    const normalized = normalizeFunctionOptions(where, options);
    if (normalized.wire.batched && isGeneratorFunction(fn))
      throw new InvalidError(`${where}: a generator function cannot be batched (it must return one array of outputs)`);
    const f = Function_._define(this, fn, normalized, options.name);
    this._functions.push(f as unknown as Function_);
    return f;
  }

  /**
   * A JSON web endpoint (api.md §4): GET takes the query string, other methods a JSON body;
   * `schema` (any Standard Schema) checks and converts it. A returned value is sent as JSON,
   * a returned Response as it is.
   */
  webEndpoint<S extends StandardSchemaV1>(
    params: WebEndpointParams<S> & { schema: S },
    handler: (input: InferSchemaOutput<S>, req: WebRequestInfo) => unknown,
  ): WebEndpoint;
  webEndpoint<I = Record<string, string | string[]>>(
    params: WebEndpointParams<undefined>,
    handler: (input: I, req: WebRequestInfo) => unknown,
  ): WebEndpoint;
  webEndpoint(params: WebEndpointParams, handler: (input: never, req: WebRequestInfo) => unknown): WebEndpoint {
    return defineWeb(this, params, { kind: "endpoint", handler: handler as EndpointHandler });
  }

  /** Serves any Fetch-API handler (Hono's `app.fetch`, …); `factory` runs once per container. */
  fetchApp(params: WebAppParams, factory: () => FetchHandler): WebEndpoint {
    return defineWeb(this, params, { kind: "fetch", factory });
  }

  /**
   * Serves any Node `(req, res)` handler (an Express app, …), or an http.Server that is not
   * listening (its 'request' and 'upgrade' events are emitted: WebSockets); `factory` runs once
   * per container.
   */
  nodeHttpApp(params: WebAppParams, factory: () => NodeHandler | import("node:http").Server): WebEndpoint {
    return defineWeb(this, params, { kind: "node", factory });
  }

  /**
   * Defines a class with lifecycle (api.md §3): `@app.cls(options) export class Model { … }`.
   * Its name is `options.name`, else the class's name.
   */
  cls(options: ClsParams = {}) {
    return <C extends new () => object>(value: C, context: ClassDecoratorContext<C>): void => {
      const ctx = standardContext(context, "app.cls()");
      if (ctx.kind !== "class") throw new InvalidError("@app.cls() goes on a class");
      const name = options.name ?? (typeof ctx.name === "string" ? ctx.name : value.name);
      const where = `app "${this.name}" class ${name || "<anonymous>"}`;
      if ("schedule" in options) throw new InvalidError(`${where}: a class cannot have a schedule`);
      if (!name || !/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(name))
        throw new InvalidError(`${where}: a class needs a valid name (letters, digits, "_" and "-", up to 64)`);
      const members = collectMembers(ctx.metadata);
      if (members.methods.size === 0)
        throw new InvalidError(`${where} has no @method() methods: mark the methods callers may call`);
      for (const n of [...members.enter, ...members.exit])
        if (members.methods.has(n)) throw new InvalidError(`${where}: ${n} cannot be both a hook and a @method()`);
      if ("batched" in options)
        throw new InvalidError(`${where}: batch a method instead: @method({ batched: { maxBatchSize, waitMs } })`);
      const batchedMethods = [...members.methods].filter(([, m]) => m.batched);
      if (batchedMethods.length > 0 && members.methods.size > 1)
        throw new InvalidError(
          `${where}: a class with a batched method (${batchedMethods[0]![0]}) cannot have other @method() methods (its containers run one batch at a time)`,
        );
      const batched = batchedMethods[0]?.[1].batched;
      const def: ClassDef = {
        app: this,
        ctor: value,
        name,
        options: normalizeFunctionOptions(where, { ...(options as FunctionParams), ...(batched ? { batched } : {}) }),
        members,
        binding: undefined,
        spec: undefined,
      };
      if (this._classes.some((c) => c.name === name))
        throw new InvalidError(`app "${this.name}" has two classes named "${name}"`);
      this._classes.push(def);
      registerClass(def);
    };
  }

  /** Internal: the class called `name`. */
  _class(name: string): ClassDef | undefined {
    return this._classes.find((c) => c.name === name);
  }

  /** Runs locally under `skiff run app.ts`; what it calls runs in containers. */
  localEntrypoint(fn: () => unknown): void {
    if (typeof fn !== "function") throw new InvalidError("localEntrypoint: expected a function");
    if (this._entrypoint) throw new InvalidError(`app "${this.name}" already has a localEntrypoint`);
    this._entrypoint = fn;
  }

  /** Internal: the function called `name`. */
  _function(name: string): Function_ | undefined {
    return this._functions.find((f) => f._maybeName === name);
  }

  /** Internal: what the control plane stores for each function. */
  _specs(): FunctionSpec[] {
    const labels = new Map<string, string>();
    const fns: FunctionSpec[] = this._functions.map((f) => {
      const web = _webSpecOf(f);
      const spec: FunctionSpec = { name: f.name, isGenerator: isGeneratorFunction(f._impl), options: f._options!.wire };
      if (!web) return spec;
      const label = checkLabel(`app "${this.name}" web endpoint ${f.name}`, web.label || defaultLabel(f.name));
      const other = labels.get(label);
      if (other) throw new InvalidError(`app "${this.name}": ${other} and ${f.name} both use the web label "${label}"`);
      labels.set(label, f.name);
      return { ...spec, web: { ...web, label } };
    });
    const classes: FunctionSpec[] = this._classes.map((c) => ({
      name: c.name,
      isGenerator: false,
      options: c.options.wire,
      cls: classSpec(c),
    }));
    return [...fns, ...classes];
  }

  /** Internal: connects every function and class to its server-side copy. */
  _bind(client: Client, infos: FunctionInfo[]): void {
    for (const info of infos) {
      if (info.cls) {
        const c = this._class(info.name);
        if (c) c.binding = { client, info };
      } else this._function(info.name)?._bind(client, info);
    }
  }
}

/**
 * Finds the apps of an entry module and names their functions: the `name` option, else
 * the export name. Unnamed or duplicate functions are errors. The CLI and the container
 * runtime both call this on the same bundle, so both sides agree on names.
 */
export function resolveApps(exports: Record<string, unknown>): App[] {
  const apps: App[] = [];
  const addApp = (app: App) => {
    if (!apps.includes(app)) apps.push(app);
  };
  for (const [exportName, value] of Object.entries(exports)) {
    if (value instanceof App) addApp(value);
    const def = classDefOf(value);
    if (def) addApp(def.app);
    // A web endpoint's handle wraps the function that serves it.
    const fn = value instanceof WebEndpoint ? value._function : value;
    if (fn instanceof Function_ && fn._app) {
      addApp(fn._app);
      if (!fn._maybeName) fn._setName(exportName);
    }
  }
  for (const app of apps) {
    const seen = new Map<string, Function_>();
    for (const f of app._functions) {
      const name = f._maybeName;
      if (!name) {
        const hint = (f._impl as { name?: string } | undefined)?.name;
        throw new InvalidError(
          `app "${app.name}" has a function${hint ? ` (${hint})` : ""} with no name: export it from the entry module, or pass { name: "…" }`,
        );
      }
      if (seen.has(name) && seen.get(name) !== f)
        throw new InvalidError(`app "${app.name}" has two functions named "${name}"`);
      seen.set(name, f);
    }
    for (const c of app._classes) {
      if (seen.has(c.name))
        throw new InvalidError(`app "${app.name}" has a class and a function both named "${c.name}"`);
    }
  }
  const names = new Set<string>();
  for (const app of apps) {
    if (names.has(app.name)) throw new InvalidError(`the entry module defines two apps named "${app.name}"`);
    names.add(app.name);
  }
  return apps;
}
