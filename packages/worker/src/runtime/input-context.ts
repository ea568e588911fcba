import { AsyncLocalStorage } from "node:async_hooks";
import { _setInputContextProvider, type InputContext } from "skiff";

/** The running input, carried across awaits for `currentInput()` and log tagging. */
export const inputStorage = new AsyncLocalStorage<InputContext>();

export function installInputContext(): void {
  _setInputContextProvider(() => inputStorage.getStore());
}
