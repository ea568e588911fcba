/**
 * The input a container is running, visible to user code. The SDK stays free of Node
 * built-ins: the container runtime installs a provider (AsyncLocalStorage) at start, and
 * outside a container there is none, so these return undefined.
 */

export interface InputContext {
  /** The input being run ("in-…"). */
  id: string;
  /** The call it belongs to ("fc-…"). */
  functionCallId: string;
  /** 1 for the first attempt, then 2, 3, … on retries and re-deliveries. */
  attempt: number;
  /** Fires when the input is cancelled or times out. */
  signal: AbortSignal;
}

let provider: (() => InputContext | undefined) | undefined;

/** Used by the container runtime; not part of the public API. */
export function _setInputContextProvider(fn: () => InputContext | undefined): void {
  provider = fn;
}

/** The running input, also across awaits; undefined outside a container. */
export function currentInput(): InputContext | undefined {
  return provider?.();
}

/** The running input's id; undefined outside a container. */
export function currentInputId(): string | undefined {
  return provider?.()?.id;
}
