import { decodeCbor } from "@skiff/protocol";
import { type App, isGeneratorFunction } from "skiff";
import type { ClassDef } from "skiff/internal";

/**
 * What a container runs: one function, or the methods of one class instance (api.md §3).
 * The runner asks it to run inputs without caring which.
 */
export interface Target {
  /** Runs one input (`method` is set for a class). */
  invoke(method: string | undefined, args: unknown[]): unknown;
  isGenerator(method: string | undefined): boolean;
  /** A plain (non-async) function: runs on threads by default when maxInputs > 1. */
  readonly plain: boolean;
  /** A generator function: never on threads. (A class's generator methods run on the main thread.) */
  readonly generator: boolean;
  /** Runs the `@enter` hooks (classes) once; later calls return the same promise. */
  enter(): Promise<void>;
  /** Runs the `@exit` hooks (classes). */
  exit(): Promise<void>;
}

/** Finds the function or class `name` of `app`; a class is constructed with its parameters set. */
export function loadTarget(app: App, name: string, params: Uint8Array | undefined): Target {
  const fn = app._function(name);
  if (fn) {
    const impl = fn._impl as (...a: unknown[]) => unknown;
    const generator = isGeneratorFunction(impl);
    return {
      invoke: (_m, args) => impl(...args),
      isGenerator: () => generator,
      plain: (impl as { constructor?: { name?: string } }).constructor?.name === "Function",
      generator,
      enter: async () => {},
      exit: async () => {},
    };
  }
  const def = app._class(name);
  if (!def) throw new Error(`app "${app.name}" has no function or class "${name}" in this bundle`);
  return classTarget(def, params);
}

function classTarget(def: ClassDef, params: Uint8Array | undefined): Target {
  const instance = new def.ctor() as Record<string, unknown>;
  // Parameters are set after the field initialisers ran, before `@enter`: the hooks see them.
  if (params) Object.assign(instance, decodeCbor(params) as Record<string, unknown>);
  const call = (name: string, args: unknown[]) =>
    (instance[name] as (...a: unknown[]) => unknown).apply(instance, args);
  const hooks = async (kind: "enter" | "exit") => {
    for (const name of def.members[kind]) {
      try {
        await call(name, []);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        const wrapped = new Error(`@${kind}() ${def.name}.${name} failed: ${msg}`, { cause: err });
        if (err instanceof Error && err.stack)
          wrapped.stack = `${wrapped.name}: ${wrapped.message}\n${err.stack.split("\n").slice(1).join("\n")}`;
        throw wrapped;
      }
    }
  };
  let entered: Promise<void> | undefined;
  return {
    invoke(method, args) {
      if (!method || !def.members.methods.has(method))
        throw new Error(`class ${def.name} has no @method() "${method}"`);
      return call(method, args);
    },
    isGenerator: (method) => Boolean(method && def.members.methods.get(method)?.isGenerator),
    plain: false,
    generator: false,
    enter: () => {
      entered ??= hooks("enter");
      return entered;
    },
    exit: () => hooks("exit"),
  };
}
