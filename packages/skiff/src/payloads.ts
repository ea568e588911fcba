import {
  type CallOutcome,
  decodePayload,
  encodePayload,
  INLINE_PAYLOAD_BYTES,
  type Payload,
  type ResultWire,
} from "@skiff/protocol";
import type { Client } from "./client.js";
import {
  ContainerTerminatedError,
  FunctionCancelledError,
  FunctionTimeoutError,
  InitError,
  InvalidError,
  OutputExpiredError,
} from "./errors.js";

/** Encodes a value for the wire: checked at the caller, large ones through the blob store. */
export function encodeForWire(value: unknown, path: string): Uint8Array {
  try {
    return encodePayload(value, path);
  } catch (err) {
    throw new InvalidError((err as Error).message, { cause: err });
  }
}

export async function toPayload(bytes: Uint8Array, client: Client): Promise<Payload> {
  if (bytes.byteLength <= INLINE_PAYLOAD_BYTES) return bytes;
  const { blobId } = await client.request("blob.put", { data: bytes }, { retryable: true });
  return { blob: blobId };
}

export async function fromPayload(payload: Payload, client: Client | undefined): Promise<unknown> {
  if (payload instanceof Uint8Array) return decodePayload(payload);
  if (!client) throw new InvalidError("a large payload needs a client to fetch it");
  const { data } = await client.request("blob.get", { blobId: payload.blob }, { retryable: true });
  return decodePayload(data);
}

/** The one place a call's outcome becomes a value or a thrown error. */
export async function unwrapOutcome(outcome: CallOutcome, client: Client | undefined, what: string): Promise<unknown> {
  if (outcome.kind === "cancelled") throw new FunctionCancelledError(`${what} was cancelled`);
  if (outcome.kind === "expired")
    throw new OutputExpiredError(`the result of ${what} is past its retention and was deleted`);
  return unwrapResult(outcome.result, client, what);
}

export async function unwrapResult(result: ResultWire, client: Client | undefined, what: string): Promise<unknown> {
  switch (result.status) {
    case "success":
      return fromPayload(result.data, client);
    case "failure":
      throw (await fromPayload(result.error, client)) as Error;
    case "init_failure": {
      const cause = (await fromPayload(result.error, client)) as Error;
      throw new InitError(
        `${what} failed to start its container: ${cause?.name ?? "Error"}: ${cause?.message ?? String(cause)}`,
        {
          cause,
        },
      );
    }
    case "timeout":
      throw new FunctionTimeoutError(result.message);
    case "terminated":
      throw new ContainerTerminatedError(result.message);
  }
}
