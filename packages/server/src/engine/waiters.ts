import type { CallOutcome } from "@skiff/protocol";

export type Waiter = (outcome: CallOutcome) => void;

/**
 * One wait for a call's outcome: registered with `add`, resolved with the outcome, or with
 * undefined once `timeoutMs` passes; `onGone` hands the caller's connection a way to drop it.
 * `forget` removes the waiter from wherever it is held by then.
 */
export function waitForOutcome(
  add: (w: Waiter) => void,
  forget: (w: Waiter) => void,
  timeoutMs: number | undefined,
  onGone: ((cancel: () => void) => void) | undefined,
): Promise<CallOutcome | undefined> {
  if (timeoutMs === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    if (timeoutMs === undefined) {
      // No timer to clear: the promise's resolve is the waiter. No closure bound to a name is
      // made per wait (the CLI bundle names each with a defineProperty: api/handlers.ts callMade).
      add(resolve);
      onGone?.(() => forget(resolve));
      return;
    }
    const waiter: Waiter = (o) => {
      clearTimeout(timer);
      resolve(o);
    };
    add(waiter);
    const timer = setTimeout(() => {
      forget(waiter);
      resolve(undefined);
    }, timeoutMs);
    onGone?.(() => {
      clearTimeout(timer);
      forget(waiter);
    });
  });
}
