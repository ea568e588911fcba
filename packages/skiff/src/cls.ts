import type { ClassSpec, FunctionInfo, OptionsOverrideWire, ParamValue } from "@skiff/protocol";
import { checkParams } from "./check-params.js";
import { type ClassDef, checkInstanceParams, classDefOf, classSpec } from "./class-def.js";
import { type Client, resolveClient } from "./client.js";
import { InvalidError, NotFoundError } from "./errors.js";
import { type AnyFunction, type Binding, Function_, type FunctionLookupParams, LOOKUP_PARAM_KEYS } from "./function.js";
import { type BatchingParams, type VariantOptions, variantOverrides } from "./function-options.js";
import { didYouMean } from "./nearest.js";

type ClassLike = abstract new (...args: never[]) => object;

type MethodNames<T> = {
  [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never;
}[keyof T] &
  string;

/** An instance of a class: each method has `remote`, `map`, `spawn`, `remoteGen`, … */
export type ClsInstance<T> = { readonly [K in MethodNames<T>]: Function_<Extract<T[K], AnyFunction>> };

/** The parameters `instance()` takes: the class's fields of parameter types (a best effort). */
export type ClsInstanceParams<T> = { [K in keyof T as T[K] extends ParamValue ? K : never]?: T[K] };

/** Options a class variant may change (`withOptions`): the same list as a function's. */
export type ClsOptions = VariantOptions;

/** The class on the server: resolved once per Cls and shared by its variants. */
interface ClassRef {
  label: string;
  resolve(): Promise<{ client: Client; info: FunctionInfo }>;
  /** Known without a round trip for a class of the running app. */
  localSpec: ClassSpec | undefined;
  /** For a class defined here: runs a method on a local instance (`local()`). */
  localInstance?: (params: Record<string, ParamValue>) => (method: string, args: unknown[]) => unknown;
}

/** Names that inspection, test libraries and frameworks read off any object. */
const PROBED = new Set([
  "toString",
  "valueOf",
  "toLocaleString",
  "inspect",
  "asymmetricMatch",
  "nodeType",
  "tagName",
  "length",
  "prototype",
]);

/**
 * A class defined with `@app.cls`, or a handle to a deployed one (api.md §3). Type it from the
 * class: `Cls.fromName<typeof Model>("app", "Model")`.
 */
export class Cls<C extends ClassLike = ClassLike> {
  private constructor(
    private readonly ref: ClassRef,
    private readonly overrides: OptionsOverrideWire,
  ) {}

  /** A lazy handle to a deployed class, resolved on first use. */
  static fromName<C extends ClassLike = ClassLike>(
    appName: string,
    name: string,
    params: FunctionLookupParams = {},
  ): Cls<C> {
    if (typeof appName !== "string" || appName.length === 0)
      throw new InvalidError("Cls.fromName: appName must be a non-empty string");
    if (typeof name !== "string" || name.length === 0)
      throw new InvalidError("Cls.fromName: name must be a non-empty string");
    checkParams("Cls.fromName", params, LOOKUP_PARAM_KEYS);
    let pending: Promise<{ client: Client; info: FunctionInfo }> | undefined;
    const ref: ClassRef = {
      label: `${appName}.${name}`,
      localSpec: undefined,
      resolve() {
        pending ??= (async () => {
          const client = await resolveClient(params.client);
          const info = await client
            .request(
              "function.lookup",
              { appName, name, environment: params.environment ?? client.environment },
              { retryable: true },
            )
            .catch((err: unknown) => {
              // The server looks up functions and classes alike: name what was asked for.
              if (err instanceof NotFoundError && err.message.includes(" has no function "))
                throw new NotFoundError(err.message.replace(" has no function ", " has no class "));
              throw err;
            });
          if (!info.cls)
            throw new InvalidError(`${appName}.${name} is a function, not a class: use Function_.fromName`);
          return { client, info };
        })();
        pending.catch(() => {
          pending = undefined;
        });
        return pending;
      },
    };
    return new Cls<C>(ref, {});
  }

  /**
   * Resolves a deployed class now.
   * @throws NotFoundError if the app or the class does not exist.
   */
  static async lookup<C extends ClassLike = ClassLike>(
    appName: string,
    name: string,
    params: FunctionLookupParams = {},
  ): Promise<Cls<C>> {
    const cls = Cls.fromName<C>(appName, name, params);
    const { info } = await cls.ref.resolve();
    cls.ref.localSpec = info.cls;
    return cls;
  }

  /** The class of the running app, for calls from inside it (a decorator cannot change a class's type). */
  static from<C extends ClassLike>(cls: C): Cls<C> {
    const def = classDefOf(cls);
    if (!def)
      throw new InvalidError(
        `Cls.from: ${(cls as { name?: string })?.name ?? "this"} is not a class decorated with @app.cls()`,
      );
    return new Cls<C>(localRef(def), {});
  }

  /** The class's name on the server ("app.Class"). */
  get name(): string {
    return this.ref.label;
  }

  /**
   * An instance with these parameters; instances with equal parameters (defaults filled in)
   * share a pool of containers. Unknown or mistyped parameters are an error.
   */
  instance(
    params: ClsInstanceParams<InstanceType<C>> = {} as ClsInstanceParams<InstanceType<C>>,
  ): ClsInstance<InstanceType<C>> {
    const where = `${this.ref.label}.instance()`;
    checkInstanceParams(where, this.ref.localSpec?.params, params);
    const given: Record<string, ParamValue> = {};
    for (const [k, v] of Object.entries(params as object)) if (v !== undefined) given[k] = v as ParamValue;
    const ref = this.ref;
    const overrides = this.overrides;
    // One bind per instance() result, shared by its methods.
    let bound: Promise<{ client: Client; info: FunctionInfo }> | undefined;
    const bind = () => {
      bound ??= (async () => {
        const { client, info } = await ref.resolve();
        checkInstanceParams(where, info.cls?.params, given);
        const inst = await client.request(
          "function.bind",
          {
            functionId: info.functionId,
            params: given,
            ...(Object.keys(overrides).length ? { options: overrides } : {}),
          },
          { retryable: true },
        );
        return { client, info: inst };
      })();
      bound.catch(() => {
        bound = undefined;
      });
      return bound;
    };
    const handles = new Map<string, Function_>();
    const local = this.ref.localInstance?.(given);
    const methodHandle = (name: string): Function_ => {
      let h = handles.get(name);
      if (!h) {
        h = Function_._forMethod(
          name,
          async (): Promise<Binding> => {
            const { client, info } = await bind();
            const m = info.cls?.methods.find((x) => x.name === name);
            if (!m) {
              const have = info.cls?.methods.map((x) => x.name).join(", ") || "none";
              throw new NotFoundError(
                `class ${ref.label} has no @method() "${name}"${didYouMean(name, info.cls?.methods.map((x) => x.name) ?? [])} (it has: ${have})`,
              );
            }
            return {
              client,
              info,
              target: { functionId: info.functionId, method: name },
              isGenerator: m.isGenerator,
              what: `${ref.label}.${name}`,
            };
          },
          local && ((...args: unknown[]) => local(name, args)),
        );
        handles.set(name, h);
      }
      return h;
    };
    const known = this.ref.localSpec?.methods.map((m) => m.name);
    return new Proxy({} as ClsInstance<InstanceType<C>>, {
      get(_t, prop) {
        // Not a thenable, not a method: `await instance` and inspection must not call the server.
        if (typeof prop !== "string" || prop === "then" || prop === "toJSON" || prop === "constructor")
          return undefined;
        if (known && !known.includes(prop)) {
          // What runtimes and libraries probe on any object: answered as a plain object would.
          if (PROBED.has(prop) || prop.startsWith("_") || prop.startsWith("@@") || prop.startsWith("$"))
            return undefined;
          throw new NotFoundError(
            `class ${ref.label} has no @method() "${prop}"${didYouMean(prop, known)} (it has: ${known.join(", ") || "none"})`,
          );
        }
        return methodHandle(prop);
      },
      has(_t, prop) {
        return typeof prop === "string" && (known ? known.includes(prop) : true);
      },
    });
  }

  /** A variant with other options, and a pool of its own. */
  withOptions(options: ClsOptions): Cls<C> {
    return new Cls<C>(this.ref, variantOverrides(`${this.ref.label}.withOptions()`, options, this.overrides));
  }

  /** A variant of a class whose method is batched, with other batch limits. */
  withBatching(params: BatchingParams): Cls<C> {
    return this.withOptions({ batched: params });
  }

  /** A variant running `maxInputs` inputs at once per container. */
  withConcurrency(params: { maxInputs: number; threads?: boolean }): Cls<C> {
    return this.withOptions({ concurrency: params });
  }
}

/**
 * A local instance for `local()`: constructed with its parameters on first use, `@enter` run
 * once before its first method (so a method then returns a promise when there are hooks).
 */
function localInstance(def: ClassDef, params: Record<string, ParamValue>) {
  let obj: Record<string, unknown> | undefined;
  let entered: Promise<void> | undefined;
  return (method: string, args: unknown[]): unknown => {
    if (!def.members.methods.has(method)) throw new InvalidError(`class ${def.name} has no @method() "${method}"`);
    if (!obj) {
      obj = Object.assign(new def.ctor() as Record<string, unknown>, params);
      const o = obj;
      if (def.members.enter.length > 0)
        entered = (async () => {
          for (const h of def.members.enter) await (o[h] as () => unknown).call(o);
        })();
    }
    const o = obj;
    const run = () => (o[method] as (...a: unknown[]) => unknown).apply(o, args);
    return entered ? entered.then(run) : run();
  };
}

function localRef(def: ClassDef): ClassRef {
  return {
    label: `${def.app.name}.${def.name}`,
    localInstance: (params) => localInstance(def, params),
    get localSpec() {
      return classSpec(def);
    },
    resolve() {
      if (def.binding) return Promise.resolve(def.binding);
      return Promise.reject(
        new InvalidError(
          `class ${def.name} belongs to app "${def.app.name}", which is not running here: run it with \`skiff run\`, or deploy it and use Cls.fromName("${def.app.name}", "${def.name}")`,
        ),
      );
    },
  };
}
