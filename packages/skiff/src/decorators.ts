import { membersFor } from "./class-def.js";
import { InvalidError } from "./errors.js";
import { isGeneratorFunction } from "./function.js";
import { type BatchingParams, checkBatching } from "./function-options.js";

/**
 * The member decorators of a class (api.md §3). They are standard (TC39) decorators, as
 * esbuild and TypeScript ≥ 5 compile them without `experimentalDecorators`; each records its
 * member under the decorator metadata object that all decorators of one class share, and
 * `@app.cls` collects them.
 */

interface StandardContext {
  kind: string;
  name: string | symbol;
  static?: boolean;
  private?: boolean;
  metadata?: object;
}

/** The context of a standard decorator, or a clear error for legacy (experimental) ones. */
export function standardContext(context: unknown, decorator: string): StandardContext & { metadata: object } {
  if (context === null || typeof context !== "object" || typeof (context as StandardContext).kind !== "string") {
    throw new InvalidError(
      `@${decorator} was applied as a legacy decorator: this project is compiled with "experimentalDecorators", but Skiff uses standard decorators. Remove "experimentalDecorators" (and "emitDecoratorMetadata") from tsconfig.json`,
    );
  }
  const ctx = context as StandardContext;
  if (!ctx.metadata || typeof ctx.metadata !== "object") {
    throw new InvalidError(
      `@${decorator}: the compiler gave no decorator metadata; compile with esbuild ≥ 0.21 or TypeScript ≥ 5.2`,
    );
  }
  return ctx as StandardContext & { metadata: object };
}

function memberName(ctx: StandardContext, decorator: string, kind: "method" | "field"): string {
  if (ctx.kind !== kind || ctx.static || ctx.private || typeof ctx.name !== "string") {
    throw new InvalidError(
      `@${decorator} goes on a public, non-static ${kind} (found on ${ctx.static ? "static " : ""}${ctx.private ? "private " : ""}${ctx.kind} ${String(ctx.name)})`,
    );
  }
  return ctx.name;
}

type Method = (...args: never[]) => unknown;

/**
 * A method callable from outside: it gets `remote`, `map`, `spawn`, … on an instance. With
 * `batched`, it takes arrays of inputs and returns one output per input (api.md §2); callers
 * call it with single inputs. A class with a batched method has no other methods.
 */
export function method(options: { batched?: BatchingParams } = {}) {
  const where = "@method()";
  if (options === null || typeof options !== "object") throw new InvalidError(`${where}: options must be an object`);
  for (const k of Object.keys(options))
    if (k !== "batched") throw new InvalidError(`${where}: unknown option "${k}" (it takes batched)`);
  const batched = options.batched === undefined ? undefined : checkBatching(where, options.batched);
  return <T extends Method>(value: T, context: ClassMethodDecoratorContext): void => {
    const ctx = standardContext(context, "method()");
    const name = memberName(ctx, "method()", "method");
    const isGenerator = isGeneratorFunction(value);
    if (batched && isGenerator) throw new InvalidError(`@method() ${name}: a generator method cannot be batched`);
    membersFor(ctx.metadata).methods.set(name, { isGenerator, ...(batched ? { batched } : {}) });
  };
}

/** Runs once per container (per thread, on threads) before its first input; async allowed. */
export function enter() {
  return <T extends Method>(_value: T, context: ClassMethodDecoratorContext): void => {
    const ctx = standardContext(context, "enter()");
    membersFor(ctx.metadata).enter.push(memberName(ctx, "enter()", "method"));
  };
}

/** Runs when the container shuts down (scale-down, app stop), within a bounded grace time. */
export function exit() {
  return <T extends Method>(_value: T, context: ClassMethodDecoratorContext): void => {
    const ctx = standardContext(context, "exit()");
    membersFor(ctx.metadata).exit.push(memberName(ctx, "exit()", "method"));
  };
}

/** A field that is part of an instance's identity; its initialiser is the default. */
export function parameter() {
  return (_value: undefined, context: ClassFieldDecoratorContext): void => {
    const ctx = standardContext(context, "parameter()");
    membersFor(ctx.metadata).params.push(memberName(ctx, "parameter()", "field"));
  };
}
