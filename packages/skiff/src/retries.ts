import { checkParams } from "./check-params.js";
import { InvalidError } from "./errors.js";

export interface RetriesParams {
  /** Retries after the first attempt (0..10). */
  maxRetries: number;
  /** Each delay is the previous one times this (1..10). @defaultValue 2 */
  backoffCoefficient?: number;
  /** Delay before the first retry. @defaultValue 1000 */
  initialDelayMs?: number;
  /** Upper bound on any delay. @defaultValue 60_000 */
  maxDelayMs?: number;
}

/** Retry policy for a function: how often and how long to wait between attempts. */
export class Retries {
  readonly maxRetries: number;
  readonly backoffCoefficient: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;

  constructor(params: RetriesParams) {
    checkParams("new Retries", params, ["maxRetries", "backoffCoefficient", "initialDelayMs", "maxDelayMs"]);
    const { maxRetries, backoffCoefficient = 2, initialDelayMs = 1000, maxDelayMs = 60_000 } = params;
    if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 10) {
      throw new InvalidError(`retries: maxRetries must be an integer from 0 to 10, got ${String(maxRetries)}`);
    }
    if (!(backoffCoefficient >= 1 && backoffCoefficient <= 10)) {
      throw new InvalidError(`retries: backoffCoefficient must be from 1 to 10, got ${String(backoffCoefficient)}`);
    }
    if (!(initialDelayMs >= 0 && initialDelayMs <= 60_000)) {
      throw new InvalidError(`retries: initialDelayMs must be from 0 to 60000, got ${String(initialDelayMs)}`);
    }
    if (!(maxDelayMs >= initialDelayMs && maxDelayMs <= 3_600_000)) {
      throw new InvalidError(`retries: maxDelayMs must be from initialDelayMs to 3600000, got ${String(maxDelayMs)}`);
    }
    this.maxRetries = maxRetries;
    this.backoffCoefficient = backoffCoefficient;
    this.initialDelayMs = initialDelayMs;
    this.maxDelayMs = maxDelayMs;
  }
}
