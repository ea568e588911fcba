import type { InputInfo } from "@skiff/protocol";
import { checkParams } from "./check-params.js";
import { type Client, type ClientOption, resolveClient } from "./client.js";
import { InvalidError } from "./errors.js";
import { unwrapOutcome } from "./payloads.js";

export interface FunctionCallGetParams {
  /** Wait at most this long; 0 polls. Throws TimeoutError when no result is ready. */
  timeoutMs?: number;
}

export interface FunctionCallCancelParams {
  /** Also stop the containers running its inputs. @defaultValue false */
  terminateContainers?: boolean;
}

export interface FunctionCallFromIdParams {
  /** This client instead of `Client.fromEnv()`: a Client, or a promise of one. */
  client?: ClientOption;
}

/** A handle to a spawned call: storable by `objectId`, collected from any process. */
export class FunctionCall<T = unknown> {
  private constructor(
    /** "fc-…": store it, hand it to another process, `FunctionCall.fromId` it there. */
    readonly objectId: string,
    private readonly client: ClientOption | undefined,
  ) {}

  /** Internal: wraps a call id returned by the server. */
  static _new<T>(callId: string, client: Client): FunctionCall<T> {
    return new FunctionCall<T>(callId, client);
  }

  static fromId<T = unknown>(functionCallId: string, params: FunctionCallFromIdParams = {}): FunctionCall<T> {
    checkParams("FunctionCall.fromId", params, ["client"]);
    if (typeof functionCallId !== "string" || !/^fc-[0-9a-f]{24}$/.test(functionCallId)) {
      throw new InvalidError(
        `FunctionCall.fromId: ${JSON.stringify(functionCallId)} is not a function call id ("fc-…")`,
      );
    }
    return new FunctionCall<T>(functionCallId, params.client);
  }

  /**
   * Waits for the result; repeatable until retention ends.
   * @throws TimeoutError if `timeoutMs` passes first, FunctionTimeoutError, FunctionCancelledError,
   * OutputExpiredError, or the function's own error.
   */
  async get(params: FunctionCallGetParams = {}): Promise<T> {
    checkParams("get", params, ["timeoutMs"]);
    const { timeoutMs } = params;
    if (timeoutMs !== undefined && !(typeof timeoutMs === "number" && timeoutMs >= 0 && Number.isFinite(timeoutMs))) {
      throw new InvalidError(`get: timeoutMs must be a number >= 0, got ${JSON.stringify(timeoutMs)}`);
    }
    const client = await resolveClient(this.client);
    const { outcome } = await client.request(
      "call.get",
      { callId: this.objectId, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
      { retryable: true },
    );
    return (await unwrapOutcome(outcome, client, `call ${this.objectId}`)) as T;
  }

  /**
   * The call's inputs as trees: each with the calls made while it ran (api.md §6). Spawned
   * calls and calls made from inside a function are recorded.
   */
  async getCallGraph(): Promise<InputInfo[]> {
    const client = await resolveClient(this.client);
    const { inputs } = await client.request("call.graph", { callId: this.objectId }, { retryable: true });
    return inputs;
  }

  /** Cancels every input of the call that has not finished. A cancelled input is never retried. */
  async cancel(params: FunctionCallCancelParams = {}): Promise<void> {
    checkParams("cancel", params, ["terminateContainers"]);
    const client = await resolveClient(this.client);
    await client.request(
      "call.cancel",
      { callId: this.objectId, terminateContainers: params.terminateContainers ?? false },
      { retryable: true },
    );
  }

  /** Waits for all calls; rejects with the first error. Also exported as `gather`. */
  static gather<const C extends readonly FunctionCall<unknown>[]>(
    ...calls: C
  ): Promise<{ -readonly [K in keyof C]: CallResult<C[K]> }> {
    const bad = calls.findIndex((c) => !(c instanceof FunctionCall));
    if (bad >= 0)
      return Promise.reject(
        new InvalidError(`gather: argument ${bad} is not a FunctionCall (gather takes what spawn() returned)`),
      );
    return Promise.all(calls.map((c) => c.get())) as Promise<{
      -readonly [K in keyof C]: CallResult<C[K]>;
    }>;
  }
}

export type CallResult<C> = C extends FunctionCall<infer T> ? T : never;

/** Waits for all calls; the results form a typed tuple. Rejects with the first error. */
export function gather<const C extends readonly FunctionCall<unknown>[]>(
  ...calls: C
): Promise<{ -readonly [K in keyof C]: CallResult<C[K]> }> {
  return FunctionCall.gather(...calls);
}
