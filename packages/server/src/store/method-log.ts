import { appendFileSync } from "node:fs";
import type { Store } from "./store.js";

/**
 * Wraps a store to note which of its methods were called; the names are appended to `file`
 * when it closes. For the end-to-end tests (SKIFF_STORE_METHOD_LOG), which check that a run
 * on Postgres exercised every Store method.
 */
export function withMethodLog(store: Store, file: string): Store {
  const called = new Set<string>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function" || typeof prop !== "string") return v;
      return (...args: unknown[]) => {
        called.add(prop);
        if (prop === "close") appendFileSync(file, [...called].map((n) => `${n}\n`).join(""));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
