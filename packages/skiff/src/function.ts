import type { FunctionInfo, FunctionStats } from "@skiff/protocol";
import { newId } from "@skiff/protocol";
import type { App } from "./app.js";
import type { CallTarget } from "./call-target.js";
import { type Client, resolveClient } from "./client.js";
import { currentInputId } from "./context.js";
import { InvalidError, NotFoundError, SkiffError, type UserCodeError } from "./errors.js";
import { FunctionCall } from "./function-call.js";
import type { NormalizedFunctionOptions } from "./function-options.js";
import { runGenerator } from "./generator.js";
import {
  type ArgSource,
  argSource,
  type ForEachParams,
  type MapParams,
  MapResult,
  runMap,
  splitMapArgs,
} from "./map.js";
import { encodeForWire, toPayload, unwrapOutcome } from "./payloads.js";

/** Any user function. */
export type AnyFunction = (...args: never[]) => unknown;
export type ArgsOf<F> = F extends (...args: infer A) => unknown ? A : never;
export type ResultOf<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;
/** What `map` yields per item: a result, or for a generator function each yielded item (a flat map). */
export type MapItem<F> = F extends (...args: never[]) => AsyncGenerator<infer Y> | Generator<infer Y> ? Y : ResultOf<F>;
/** What a generator function yields. */
export type YieldOf<F> = F extends (...args: never[]) => AsyncGenerator<infer Y> | Generator<infer Y> ? Y : never;

export interface FunctionLookupParams {
  /** Defaults to the client's environment. */
  environment?: string;
  /** Use this client instead of `Client.fromEnv()`. */
  client?: Client;
}

/** A handle resolved to its server-side copy. */
export interface Binding {
  client: Client;
  info: FunctionInfo;
  /** What calls name: the function id, and the method for a class instance. */
  target: CallTarget;
  isGenerator: boolean;
  /** "app.name" (or "app.Class.method") for messages. */
  what: string;
}

function bindingOf(client: Client, info: FunctionInfo): Binding {
  return {
    client,
    info,
    target: { functionId: info.functionId },
    isGenerator: info.isGenerator,
    what: `${info.appName}.${info.name}`,
  };
}

interface LazyRef {
  appName: string;
  name: string;
  environment: string | undefined;
  client: Client | undefined;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Web endpoints are called over HTTP, at their URL. @throws InvalidError */
function notWebEndpoint(info: FunctionInfo): void {
  if (info.webUrl) throw new InvalidError(`${info.appName}.${info.name} is a web endpoint: request ${info.webUrl}`);
}

export function isGeneratorFunction(fn: unknown): boolean {
  const ctor = (fn as { constructor?: { name?: string } } | undefined)?.constructor?.name;
  return ctor === "AsyncGeneratorFunction" || ctor === "GeneratorFunction";
}

/**
 * A function: defined in an app (`app.function`) or a handle to a deployed one
 * (`Function_.fromName`). Every network method returns a promise.
 */
export class Function_<F extends AnyFunction = AnyFunction> {
  /** Internal: set for functions defined by `app.function`. */
  readonly _app: App | undefined;
  readonly _impl: F | undefined;
  readonly _options: NormalizedFunctionOptions | undefined;
  private _name: string | undefined;
  private readonly ref: LazyRef | undefined;
  /** Set for a class instance's method: resolves the instance (binding its parameters). */
  private readonly resolver: (() => Promise<Binding>) | undefined;
  /** Set for a method of a class defined here: runs it on a local instance. */
  private readonly localRun: ((...args: unknown[]) => unknown) | undefined;
  private binding: Binding | undefined;
  private hydrating: Promise<Binding> | undefined;

  private constructor(init: {
    app?: App;
    impl?: F;
    options?: NormalizedFunctionOptions;
    name?: string;
    ref?: LazyRef;
    resolver?: () => Promise<Binding>;
    localRun?: (...args: unknown[]) => unknown;
  }) {
    this._app = init.app;
    this._impl = init.impl;
    this._options = init.options;
    this._name = init.name;
    this.ref = init.ref;
    this.resolver = init.resolver;
    this.localRun = init.localRun;
  }

  /** Internal: a method of a class instance; `resolver` binds the instance on first use. */
  static _forMethod<F extends AnyFunction>(
    name: string,
    resolver: () => Promise<Binding>,
    localRun?: (...args: unknown[]) => unknown,
  ): Function_<F> {
    return new Function_<F>({ name, resolver, ...(localRun ? { localRun } : {}) });
  }

  /** Internal: used by `app.function`. */
  static _define<F extends AnyFunction>(
    app: App,
    impl: F,
    options: NormalizedFunctionOptions,
    name: string | undefined,
  ): Function_<F> {
    if (name !== undefined && !NAME.test(name)) {
      throw new InvalidError(
        `function name ${JSON.stringify(name)} is invalid: use letters, digits, "_" and "-", up to 64`,
      );
    }
    return new Function_<F>({ app, impl, options, ...(name ? { name } : {}) });
  }

  /**
   * A lazy handle to a deployed function, resolved on first use.
   * Type it from the definition: `Function_.fromName<typeof square>("app", "square")`.
   */
  static fromName<T extends Function_<AnyFunction> = Function_<AnyFunction>>(
    appName: string,
    name: string,
    params: FunctionLookupParams = {},
  ): T {
    if (typeof appName !== "string" || appName.length === 0)
      throw new InvalidError("Function_.fromName: appName must be a non-empty string");
    if (typeof name !== "string" || name.length === 0)
      throw new InvalidError("Function_.fromName: name must be a non-empty string");
    return new Function_({
      name,
      ref: { appName, name, environment: params.environment, client: params.client },
    }) as unknown as T;
  }

  /**
   * Resolves a deployed function now.
   * @throws NotFoundError if the app or the function does not exist.
   */
  static async lookup<T extends Function_<AnyFunction> = Function_<AnyFunction>>(
    appName: string,
    name: string,
    params: FunctionLookupParams = {},
  ): Promise<T> {
    const fn = Function_.fromName<T>(appName, name, params);
    await fn.hydrate();
    return fn;
  }

  /** The function's name (the `name` option, else its export name). */
  get name(): string {
    if (!this._name)
      throw new InvalidError("this function has no name yet: export it from the app's entry module or pass { name }");
    return this._name;
  }

  /** Internal: the name if known. */
  get _maybeName(): string | undefined {
    return this._name;
  }

  /** Internal: assigns the export name. */
  _setName(name: string): void {
    if (!NAME.test(name)) throw new InvalidError(`export name ${JSON.stringify(name)} is not a valid function name`);
    this._name = name;
  }

  /** Internal: binds an app-defined function to the running app's copy on the server. */
  _bind(client: Client, info: FunctionInfo): void {
    this.binding = bindingOf(client, info);
  }

  /** Whether the function is a generator (known after hydrate for handles). */
  get isGenerator(): boolean {
    if (this._impl) return isGeneratorFunction(this._impl);
    return this.requireBinding("isGenerator").isGenerator;
  }

  /** A web endpoint's URL, after hydrate (undefined for other functions). */
  get webUrl(): string | undefined {
    return this.requireBinding("webUrl").info.webUrl;
  }

  /**
   * The URL of a web endpoint, on any handle of one: looked up (`Function_.fromName(app,
   * "hello")`) or defined in the running app.
   * @throws InvalidError for a function that is not a web endpoint.
   */
  async getWebUrl(): Promise<string> {
    const b = await this.resolve();
    if (b.info.webUrl) return b.info.webUrl;
    try {
      return await this._webUrl();
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new InvalidError(`${b.what} is not a web endpoint: it has no URL (call it with .remote())`);
      throw err;
    }
  }

  /** Internal: the URL of a web endpoint, asked of the server when the binding lacks it. */
  async _webUrl(): Promise<string> {
    const b = await this.resolve();
    if (b.info.webUrl) return b.info.webUrl;
    return (await b.client.request("web.url", { functionId: b.info.functionId }, { retryable: true })).url;
  }

  /** The server-side id ("fu-…"), after hydrate. */
  get functionId(): string {
    return this.requireBinding("functionId").target.functionId;
  }

  private requireBinding(what: string): Binding {
    if (!this.binding)
      throw new InvalidError(`${what} is not known until the function is hydrated: await fn.hydrate() first`);
    return this.binding;
  }

  /** Resolves the handle now. @throws NotFoundError */
  async hydrate(): Promise<this> {
    await this.resolve();
    return this;
  }

  private resolve(): Promise<Binding> {
    if (this.binding) return Promise.resolve(this.binding);
    if (this.resolver) {
      if (!this.hydrating) {
        this.hydrating = this.resolver().then((b) => {
          this.binding = b;
          return b;
        });
        this.hydrating.catch(() => {
          this.hydrating = undefined;
        });
      }
      return this.hydrating;
    }
    if (!this.ref) {
      const appName = this._app?.name ?? "?";
      return Promise.reject(
        new InvalidError(
          `${this._name ?? "this function"} belongs to app "${appName}", which is not running here: run it with \`skiff run\`, or deploy it and use Function_.fromName("${appName}", "${this._name ?? "name"}")`,
        ),
      );
    }
    if (!this.hydrating) {
      const ref = this.ref;
      this.hydrating = (async () => {
        const client = await resolveClient(ref.client);
        const info = await client.request(
          "function.lookup",
          {
            appName: ref.appName,
            name: ref.name,
            environment: ref.environment ?? client.environment,
          },
          { retryable: true },
        );
        this.binding = bindingOf(client, info);
        return this.binding;
      })();
      this.hydrating.catch(() => {
        this.hydrating = undefined;
      });
    }
    return this.hydrating;
  }

  /**
   * Runs the function over inputs in parallel containers. Several iterables zip into argument
   * lists; a trailing plain object is the options. Results come in input order unless
   * `orderOutputs: false`. Leaving the loop early cancels the rest.
   */
  map(
    inputs: Iterable<ArgsOf<F>[0]> | AsyncIterable<ArgsOf<F>[0]>,
    options: MapParams & { returnExceptions: true },
  ): MapResult<MapItem<F> | UserCodeError>;
  map(inputs: Iterable<ArgsOf<F>[0]> | AsyncIterable<ArgsOf<F>[0]>, options?: MapParams): MapResult<MapItem<F>>;
  map(...inputsAndOptions: Array<Iterable<unknown> | AsyncIterable<unknown> | MapParams>): MapResult<MapItem<F>>;
  map(...args: unknown[]): MapResult<unknown> {
    const [sources, opts] = splitMapArgs<MapParams>(args);
    return this.fanOut(() => argSource(sources), opts);
  }

  /** Like map, with each element spread into the arguments. */
  starmap(inputs: Iterable<ArgsOf<F>> | AsyncIterable<ArgsOf<F>>, options?: MapParams): MapResult<MapItem<F>> {
    const [[source], opts] = splitMapArgs<MapParams>(options ? [inputs, options] : [inputs]);
    return this.fanOut(async function* () {
      let i = 0;
      for await (const tuple of source as AsyncIterable<unknown>) {
        if (!Array.isArray(tuple)) throw new InvalidError(`starmap: input ${i} is not an array of arguments`);
        i++;
        yield tuple;
      }
    }, opts) as MapResult<MapItem<F>>;
  }

  /** Runs the function over inputs for their effect; resolves when all are done. */
  async forEach(...args: Array<Iterable<unknown> | AsyncIterable<unknown> | ForEachParams>): Promise<void> {
    const [sources, opts] = splitMapArgs<ForEachParams>(args);
    const results = this.fanOut(() => argSource(sources), {
      orderOutputs: false,
      returnExceptions: Boolean(opts.ignoreExceptions),
    });
    for await (const _ of results) {
      // results are dropped; with ignoreExceptions failures are too
    }
  }

  private fanOut(argLists: () => ArgSource, opts: MapParams): MapResult<unknown> {
    return new MapResult(() => runMap(() => this.resolve(), argLists(), opts));
  }

  /** Live numbers: inputs waiting, containers busy, containers started. */
  async getCurrentStats(): Promise<FunctionStats> {
    const b = await this.resolve();
    return b.client.request("function.stats", { functionId: b.target.functionId }, { retryable: true });
  }

  /** Runs in this process, no container. */
  local(...args: ArgsOf<F>): ReturnType<F> {
    if (this.localRun) return this.localRun(...args) as ReturnType<F>;
    if (!this._impl)
      throw new InvalidError(
        `${this._name ?? "this function"} is a handle to a deployed function: local() needs its definition`,
      );
    return (this._impl as (...a: ArgsOf<F>) => ReturnType<F>)(...args);
  }

  /** Runs in a container and waits for the result. */
  async remote(...args: ArgsOf<F>): Promise<ResultOf<F>> {
    const bytes = encodeForWire(args, "args");
    const b = await this.resolve();
    notWebEndpoint(b.info);
    if (b.isGenerator)
      throw new InvalidError(`${b.what} is a generator function: call remoteGen() to stream its results`);
    const parentInputId = currentInputId();
    const res = await b.client.request(
      "call.create",
      {
        ...b.target,
        kind: "remote",
        args: await toPayload(bytes, b.client),
        idempotencyKey: newId("ik"),
        ...(parentInputId ? { parentInputId } : {}),
        await: true,
      },
      { retryable: true },
    );
    if (!res.outcome) throw new SkiffError("server replied without an outcome");
    return (await unwrapOutcome(res.outcome, b.client, b.what)) as ResultOf<F>;
  }

  /**
   * Runs a generator function in a container and yields its items as they are produced.
   * @throws InvalidError (on iteration) if the function is not a generator function.
   */
  remoteGen(...args: ArgsOf<F>): AsyncIterable<YieldOf<F>> {
    const bytes = encodeForWire(args, "args");
    const self = this;
    return {
      [Symbol.asyncIterator]: () =>
        (async function* () {
          const b = await self.resolve();
          notWebEndpoint(b.info);
          if (!b.isGenerator) throw new InvalidError(`${b.what} is not a generator function: call remote()`);
          yield* runGenerator(b.client, b.target, b.what, bytes);
        })() as AsyncIterator<YieldOf<F>>,
    };
  }

  /** Starts a call and returns at once; collect it later with `get()`, from anywhere. */
  async spawn(...args: ArgsOf<F>): Promise<FunctionCall<ResultOf<F>>> {
    const bytes = encodeForWire(args, "args");
    const b = await this.resolve();
    const parentInputId = currentInputId();
    const res = await b.client.request(
      "call.create",
      {
        ...b.target,
        kind: "spawn",
        args: await toPayload(bytes, b.client),
        idempotencyKey: newId("ik"),
        ...(parentInputId ? { parentInputId } : {}),
        await: false,
      },
      { retryable: true },
    );
    return FunctionCall._new<ResultOf<F>>(res.callId, b.client);
  }
}
