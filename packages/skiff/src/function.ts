import type {
  AutoscalerWire,
  FunctionInfo,
  FunctionStats,
  OptionsOverrideWire,
  Payload,
  RequestParams,
} from "@skiff/protocol";
import type { App } from "./app.js";
import type { CallTarget } from "./call-target.js";
import { checkParams } from "./check-params.js";
import { type Client, type ClientOption, resolveClient } from "./client.js";
import { currentInputId } from "./context.js";
import { InvalidError, NotFoundError, SkiffError, type UserCodeError } from "./errors.js";
import { FunctionCall } from "./function-call.js";
import {
  type BatchingParams,
  type ConcurrencyParams,
  type NormalizedFunctionOptions,
  type VariantOptions,
  variantOverrides,
} from "./function-options.js";
import { runGenerator } from "./generator.js";
import {
  type ArgSource,
  argSource,
  FOR_EACH_OPTION_KEYS,
  type ForEachParams,
  MAP_OPTION_KEYS,
  type MapParams,
  MapResult,
  runMap,
  splitMapArgs,
} from "./map.js";
import { encodeForWire, inlinePayload, inlineSuccess, toPayload, unwrapOutcome } from "./payloads.js";

/** Any user function. */
export type AnyFunction = (...args: never[]) => unknown;
export type ArgsOf<F> = F extends (...args: infer A) => unknown ? A : never;
export type ResultOf<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;
/** What `map` yields per item: a result, or for a generator function each yielded item (a flat map). */
export type MapItem<F> = F extends (...args: never[]) => AsyncGenerator<infer Y> | Generator<infer Y> ? Y : ResultOf<F>;
/** What a generator function yields. */
export type YieldOf<F> = F extends (...args: never[]) => AsyncGenerator<infer Y> | Generator<infer Y> ? Y : never;

/** A batched function's definition: arrays of inputs (one per parameter) in, an array of outputs out. */
export type BatchedFunction = (...columns: never[][]) => readonly unknown[] | Promise<readonly unknown[]>;
/** How callers see a batched function: single inputs in, a single output out. */
export type Unbatched<F> = F extends (...columns: infer A) => infer R
  ? (
      ...args: { [K in keyof A]: A[K] extends readonly (infer E)[] ? E : never }
    ) => Promise<Awaited<R> extends readonly (infer O)[] ? O : never>
  : never;

/** What `updateAutoscaler` takes: any of these, changed live on a deployed function. */
export interface AutoscalerParams {
  minContainers?: number;
  maxContainers?: number;
  bufferContainers?: number;
  scaledownWindowMs?: number;
}

export interface FunctionLookupParams {
  /** Defaults to the client's environment. */
  environment?: string;
  /** This client instead of `Client.fromEnv()`: a Client, or a promise of one. */
  client?: ClientOption;
}

/** The keys of FunctionLookupParams: any other is refused. */
export const LOOKUP_PARAM_KEYS = ["environment", "client"] as const satisfies readonly (keyof FunctionLookupParams)[];

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

/**
 * call.create's params, written field by field rather than as `{ ...target, … }`: V8 adds each
 * property that follows a spread of another object with a call into its runtime, microseconds
 * on every call (a third of the client's own time on a warm `.remote`).
 */
function callParams(
  target: CallTarget,
  kind: "remote" | "spawn",
  args: Payload,
  idempotencyKey: string,
  parentInputId: string | undefined,
  wait: boolean,
): RequestParams<"call.create"> {
  const p: RequestParams<"call.create"> = { functionId: target.functionId, kind, args, idempotencyKey, await: wait };
  if (target.method !== undefined) p.method = target.method;
  if (parentInputId) p.parentInputId = parentInputId;
  return p;
}

/** A deployed function by app and name (`fromName`), or by id (`fromId`). */
type LazyRef = {
  environment: string | undefined;
  client: ClientOption | undefined;
} & ({ appName: string; name: string; functionId?: undefined } | { functionId: string });

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
export class Function_<F extends AnyFunction = AnyFunction, Raw extends AnyFunction = F> {
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
  /** Set for a variant (`withOptions`, …): the handle it came from and the options it changes. */
  private readonly variant: { of: Function_<F, Raw>; overrides: OptionsOverrideWire } | undefined;
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
    variant?: { of: Function_<F, Raw>; overrides: OptionsOverrideWire };
  }) {
    this._app = init.app;
    this._impl = init.impl;
    this._options = init.options;
    this._name = init.name;
    this.ref = init.ref;
    this.resolver = init.resolver;
    this.localRun = init.localRun;
    this.variant = init.variant;
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
    checkParams("Function_.fromName", params, LOOKUP_PARAM_KEYS);
    return new Function_({
      name,
      ref: { appName, name, environment: params.environment, client: params.client },
    }) as unknown as T;
  }

  /**
   * A lazy handle to a function by its `objectId` ("fu-…", stable across redeploys of the
   * same app and function name), resolved on first use.
   * Rejects at first use with NotFoundError once its app is stopped or a deploy dropped it.
   */
  static fromId<T extends Function_<AnyFunction> = Function_<AnyFunction>>(
    functionId: string,
    params: FunctionLookupParams = {},
  ): T {
    if (typeof functionId !== "string" || !/^fu-[A-Za-z0-9_.-]{1,80}$/.test(functionId))
      throw new InvalidError(
        `Function_.fromId: ${JSON.stringify(functionId)} is not a function id (they look like "fu-…": a handle's objectId)`,
      );
    checkParams("Function_.fromId", params, LOOKUP_PARAM_KEYS);
    return new Function_({
      ref: { functionId, environment: params.environment, client: params.client },
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
    if (!this._name && this.binding) return this.binding.info.name;
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

  /**
   * The function's id ("fu-…"), after hydrate: stable across redeploys of the same app and
   * function name, so a stored id keeps working (`Function_.fromId`). A variant has its own.
   */
  get objectId(): string {
    return this.requireBinding("objectId").target.functionId;
  }

  /**
   * The JavaScript function itself, as defined (for a batched function, the one taking arrays).
   * @throws InvalidError on a handle looked up by name or id: its code lives elsewhere.
   */
  getRawF(): Raw {
    const impl = this.getRawFOrUndefined() as Raw | undefined;
    if (!impl)
      throw new InvalidError(
        `${this._name ?? "this function"} is a handle to a deployed function: getRawF() needs its definition (import the function from the app's module)`,
      );
    return impl;
  }

  private getRawFOrUndefined(): AnyFunction | undefined {
    return this._impl ?? this.variant?.of.getRawFOrUndefined();
  }

  /**
   * A variant with other options (the list classes accept, checked by name): its calls run in
   * a pool of containers of its own. Equal variants of one function share a pool.
   */
  withOptions(options: VariantOptions): Function_<F, Raw> {
    const where = `${this._name ?? "function"}.withOptions()`;
    const base = this.variant?.of ?? this;
    const overrides = variantOverrides(where, options, this.variant?.overrides ?? {});
    // A local definition knows at once whether it is batched.
    const localBatched = base._options ? base._options.wire.batched !== undefined : undefined;
    if (overrides.batched && localBatched === false)
      throw new InvalidError(
        `${where}: ${base._name ?? "this function"} is not batched: define it with { batched: { maxBatchSize, waitMs } } (it must take arrays)`,
      );
    if ((overrides.batched || localBatched) && (overrides.maxInputs ?? 1) > 1)
      throw new InvalidError(`${where}: a batched function runs one batch at a time: it takes no concurrency`);
    const variant: Function_<F, Raw> = new Function_<F, Raw>({
      ...(base._impl ? { impl: base._impl } : {}),
      ...(base._options ? { options: base._options } : {}),
      ...(base._name ? { name: base._name } : {}),
      variant: { of: base, overrides },
      resolver: async (): Promise<Binding> => {
        const b = await base.resolve();
        if (b.info.cls) throw new InvalidError(`${b.what} is a class: use Cls.withOptions`);
        if (overrides.batched && !b.info.batched)
          throw new InvalidError(`${b.what} is not batched: withBatching() applies to batched functions only`);
        const info = await b.client.request(
          "function.bind",
          { functionId: b.info.functionId, params: {}, options: overrides },
          { retryable: true },
        );
        return { ...bindingOf(b.client, info), what: `${b.what} (variant)` };
      },
    });
    return variant;
  }

  /** A variant running `maxInputs` inputs at once per container (on threads with `threads`). */
  withConcurrency(params: ConcurrencyParams): Function_<F, Raw> {
    return this.withOptions({ concurrency: params });
  }

  /** A variant of a batched function with other batch limits. */
  withBatching(params: BatchingParams): Function_<F, Raw> {
    return this.withOptions({ batched: params });
  }

  /**
   * Changes a deployed function's scaling at once, without a redeploy; the next deploy puts
   * back what its code says. Resolves with the settings now in force.
   * @throws InvalidError (rejects) for an ephemeral app's function, a variant, or min > max.
   */
  async updateAutoscaler(settings: AutoscalerParams): Promise<Required<AutoscalerParams>> {
    const where = `${this._name ?? "function"}.updateAutoscaler()`;
    if (settings === null || typeof settings !== "object" || Array.isArray(settings))
      throw new InvalidError(`${where}: settings must be an object`);
    const allowed = ["minContainers", "maxContainers", "bufferContainers", "scaledownWindowMs"];
    const wire: AutoscalerWire = {};
    for (const [k, v] of Object.entries(settings)) {
      if (!allowed.includes(k))
        throw new InvalidError(`${where}: unknown setting "${k}" (it takes ${allowed.join(", ")})`);
      if (v === undefined) continue;
      const max = k === "scaledownWindowMs" ? 86_400_000 : 10_000;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max)
        throw new InvalidError(`${where}: ${k} must be an integer from 0 to ${max}, got ${JSON.stringify(v)}`);
      (wire as Record<string, number>)[k] = v;
    }
    if (wire.minContainers !== undefined && wire.maxContainers !== undefined && wire.minContainers > wire.maxContainers)
      throw new InvalidError(
        `${where}: minContainers (${wire.minContainers}) is above maxContainers (${wire.maxContainers})`,
      );
    if (this.variant)
      throw new InvalidError(`${where}: a variant's scaling is set by its options: update the function it came from`);
    const b = await this.resolve();
    return b.client.request("function.updateAutoscaler", { functionId: b.target.functionId, settings: wire });
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
        const info =
          ref.functionId !== undefined
            ? await client.request("function.get", { functionId: ref.functionId }, { retryable: true })
            : await client.request(
                "function.lookup",
                {
                  appName: ref.appName,
                  name: ref.name,
                  environment: ref.environment ?? client.environment,
                },
                { retryable: true },
              );
        this._name ??= info.name;
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
  map(
    ...inputsAndOptions: [
      ...inputs: Array<Iterable<unknown> | AsyncIterable<unknown>>,
      options: MapParams & { returnExceptions: true },
    ]
  ): MapResult<MapItem<F> | UserCodeError>;
  map(...inputsAndOptions: Array<Iterable<unknown> | AsyncIterable<unknown> | MapParams>): MapResult<MapItem<F>>;
  map(...args: unknown[]): MapResult<unknown> {
    const [sources, opts] = splitMapArgs<MapParams>(args, "map", MAP_OPTION_KEYS);
    return this.fanOut(() => argSource(sources), opts);
  }

  /** Like map, with each element spread into the arguments. */
  starmap(
    inputs: Iterable<ArgsOf<F>> | AsyncIterable<ArgsOf<F>>,
    options: MapParams & { returnExceptions: true },
  ): MapResult<MapItem<F> | UserCodeError>;
  starmap(inputs: Iterable<ArgsOf<F>> | AsyncIterable<ArgsOf<F>>, options?: MapParams): MapResult<MapItem<F>>;
  starmap(inputs: Iterable<ArgsOf<F>> | AsyncIterable<ArgsOf<F>>, options?: MapParams): MapResult<unknown> {
    const [[source], opts] = splitMapArgs<MapParams>(
      options ? [inputs, options] : [inputs],
      "starmap",
      MAP_OPTION_KEYS,
    );
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
    const [sources, opts] = splitMapArgs<ForEachParams>(args, "forEach", FOR_EACH_OPTION_KEYS);
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

  /** Runs in this process, no container. A batched function runs as a batch of this one input. */
  local(...args: ArgsOf<F>): ReturnType<F> {
    if (this.localRun) return this.localRun(...args) as ReturnType<F>;
    if (!this._impl)
      throw new InvalidError(
        `${this._name ?? "this function"} is a handle to a deployed function: local() needs its definition`,
      );
    if (this._options?.wire.batched)
      return runBatchLocally(this._name ?? "function", this._impl, args) as ReturnType<F>;
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
    // Inline arguments need no upload: no promise to wait on (this is every warm call's path).
    const payload = inlinePayload(bytes) ?? (await toPayload(bytes, b.client));
    const res = await b.client.request(
      "call.create",
      callParams(b.target, "remote", payload, b.client.newCallKey(), parentInputId, true),
      { retryable: true },
    );
    if (!res.outcome) throw new SkiffError("server replied without an outcome");
    const inline = inlineSuccess(res.outcome);
    if (inline) return inline.value as ResultOf<F>;
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
    const payload = await toPayload(bytes, b.client);
    const res = await b.client.request(
      "call.create",
      callParams(b.target, "spawn", payload, b.client.newCallKey(), parentInputId, false),
      { retryable: true },
    );
    return FunctionCall._new<ResultOf<F>>(res.callId, b.client);
  }
}

/** `local()` of a batched function: a batch of one, checked like a container checks it. */
async function runBatchLocally(name: string, impl: AnyFunction, args: unknown[]): Promise<unknown> {
  const out = await (impl as (...cols: unknown[][]) => unknown)(...args.map((a) => [a]));
  if (!Array.isArray(out) || out.length !== 1)
    throw new InvalidError(
      `${name} is batched: it must return an array with one output per input, got ${Array.isArray(out) ? `${out.length} outputs for 1 input` : typeof out}`,
    );
  return out[0];
}
