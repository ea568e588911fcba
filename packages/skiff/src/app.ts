import type { FunctionInfo, FunctionSpec } from "@skiff/protocol";
import type { Client } from "./client.js";
import { InvalidError } from "./errors.js";
import { type AnyFunction, Function_, isGeneratorFunction } from "./function.js";
import { type FunctionParams, normalizeFunctionOptions } from "./function-options.js";

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** An app: a named group of functions deployed and run together. */
export class App {
  readonly name: string;
  /** Internal: functions in definition order. */
  readonly _functions: Function_[] = [];
  /** Internal: the `localEntrypoint`, if any. */
  _entrypoint: (() => unknown) | undefined;

  constructor(name: string) {
    if (typeof name !== "string" || !APP_NAME.test(name)) {
      throw new InvalidError(`app name ${JSON.stringify(name)} is invalid: use letters, digits, "_" and "-", up to 64`);
    }
    this.name = name;
  }

  /** Defines a function. Its name is `options.name`, else the name it is exported under. */
  function<F extends AnyFunction>(fn: F): Function_<F>;
  function<F extends AnyFunction>(options: FunctionParams, fn: F): Function_<F>;
  function<F extends AnyFunction>(a: F | FunctionParams, b?: F): Function_<F> {
    const [options, fn] = typeof a === "function" ? [{} as FunctionParams, a] : [a, b];
    if (typeof fn !== "function") throw new InvalidError(`app.function: expected a function, got ${typeof fn}`);
    const where = `app "${this.name}" function ${options.name ?? (fn.name || "<anonymous>")}`;
    const normalized = normalizeFunctionOptions(where, options);
    const f = Function_._define(this, fn, normalized, options.name);
    this._functions.push(f as unknown as Function_);
    return f;
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
    return this._functions.map((f) => ({
      name: f.name,
      isGenerator: isGeneratorFunction(f._impl),
      options: f._options!.wire,
    }));
  }

  /** Internal: connects every function to its server-side copy. */
  _bind(client: Client, infos: FunctionInfo[]): void {
    for (const info of infos) this._function(info.name)?._bind(client, info);
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
    if (value instanceof Function_ && value._app) {
      addApp(value._app);
      if (!value._maybeName) value._setName(exportName);
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
  }
  const names = new Set<string>();
  for (const app of apps) {
    if (names.has(app.name)) throw new InvalidError(`the entry module defines two apps named "${app.name}"`);
    names.add(app.name);
  }
  return apps;
}
