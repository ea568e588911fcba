import { InvalidError } from "./errors.js";
import { didYouMean } from "./nearest.js";

/**
 * Refuses an option object's unknown keys, naming the nearest known one. A plain-JavaScript
 * caller gets no type check, and a misspelt option silently ignored changes what a call does
 * (`q.get({ timeout: 10 })` would wait forever); the function options refuse theirs the same way.
 */
export function checkParams(where: string, params: unknown, known: readonly string[]): void {
  if (params === undefined) return;
  if (params === null || typeof params !== "object" || Array.isArray(params))
    throw new InvalidError(`${where}: options must be an object, got ${params === null ? "null" : typeof params}`);
  for (const key in params) {
    if (!known.includes(key))
      throw new InvalidError(
        `${where}: unknown option "${key}"${didYouMean(key, known)} (it takes ${known.length ? known.join(", ") : "none"})`,
      );
  }
}
