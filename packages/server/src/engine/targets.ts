import { invalid, notFound } from "./engine-error.js";
import type { LiveFunction } from "./model.js";

/**
 * What a call runs: a plain function, or one method of a class instance. Checked when the
 * call is made, so a wrong method name or a generator called as a plain function fails at
 * the caller instead of inside a container.
 */
export function resolveTarget(fn: LiveFunction, method: string | undefined): { name: string; isGenerator: boolean } {
  const cls = fn.spec.cls;
  const where = `${fn.appName}.${fn.name}`;
  if (!cls) {
    if (method !== undefined) throw invalid(`${where} is a function, not a class: it has no method "${method}"`);
    return { name: fn.name, isGenerator: fn.spec.isGenerator };
  }
  const have = cls.methods.map((m) => m.name).join(", ");
  if (method === undefined) throw invalid(`${where} is a class: call one of its methods (${have})`);
  const m = cls.methods.find((x) => x.name === method);
  if (!m) throw notFound(`class ${where} has no @method() "${method}" (it has: ${have})`);
  return { name: `${fn.name}.${method}`, isGenerator: m.isGenerator };
}
