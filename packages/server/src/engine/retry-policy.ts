import type { RetryPolicyWire } from "@skiff/protocol";

/** Delay before retry number `failures` (1-based): exponential, capped. */
export function retryDelayMs(policy: RetryPolicyWire, failures: number): number {
  const d = policy.initialDelayMs * policy.backoffCoefficient ** Math.max(0, failures - 1);
  return Math.min(d, policy.maxDelayMs);
}

/** Delay before starting another container after `n` start failures in a row. */
export function startBackoffMs(n: number): number {
  return n <= 0 ? 0 : Math.min(500 * 2 ** (n - 1), 30_000);
}
