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
    let timer: NodeJS.Timeout | undefined;
    const waiter: Waiter = (o) => {
      if (timer) clearTimeout(timer);
      resolve(o);
    };
    add(waiter);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        forget(waiter);
        resolve(undefined);
      }, timeoutMs);
    }
    onGone?.(() => {
      if (timer) clearTimeout(timer);
      forget(waiter);
    });
  });
}
