import {
  BLOB_PART_BYTES,
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
  NotFoundError,
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
  return inlinePayload(bytes) ?? { blob: await putBlob(client, bytes) };
}

/** `bytes` when they go inline, without a turn of waiting; undefined when they need a blob. */
export function inlinePayload(bytes: Uint8Array): Uint8Array | undefined {
  return bytes.byteLength <= INLINE_PAYLOAD_BYTES ? bytes : undefined;
}

/**
 * Uploads bytes to the server's blob store in parts of BLOB_PART_BYTES; returns the blob id.
 * An upload cut by a reconnect (the server forgets it with the connection) starts over once.
 */
export async function putBlob(client: Client, bytes: Uint8Array): Promise<string> {
  if (bytes.byteLength <= BLOB_PART_BYTES) {
    return (await client.request("blob.put", { data: bytes }, { retryable: true })).blobId;
  }
  for (let attempt = 0; ; attempt++) {
    const uploadId = `up-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    try {
      let offset = 0;
      while (bytes.byteLength - offset > BLOB_PART_BYTES) {
        const data = bytes.subarray(offset, offset + BLOB_PART_BYTES);
        await client.request("blob.append", { uploadId, offset, data }, { retryable: true });
        offset += data.byteLength;
      }
      const last = bytes.subarray(offset);
      return (await client.request("blob.put", { data: last, uploadId }, { retryable: true })).blobId;
    } catch (err) {
      if (attempt > 0 || !(err instanceof NotFoundError)) throw err;
    }
  }
}

/** Downloads a blob in parts of BLOB_PART_BYTES. */
export async function getBlob(client: Client, blobId: string): Promise<Uint8Array> {
  const first = await client.request("blob.get", { blobId }, { retryable: true });
  if (first.data.byteLength >= first.size) return first.data;
  const out = new Uint8Array(first.size);
  out.set(first.data, 0);
  let offset = first.data.byteLength;
  while (offset < first.size) {
    const { data } = await client.request("blob.get", { blobId, offset }, { retryable: true });
    if (data.byteLength === 0) throw new InvalidError(`blob ${blobId} ended early at ${offset} of ${first.size} bytes`);
    out.set(data, offset);
    offset += data.byteLength;
  }
  return out;
}

export async function fromPayload(payload: Payload, client: Client | undefined): Promise<unknown> {
  if (payload instanceof Uint8Array) return decodePayload(payload);
  if (!client) throw new InvalidError("a large payload needs a client to fetch it");
  return decodePayload(await getBlob(client, payload.blob));
}

/**
 * The value of an outcome that succeeded with an inline result, decoded at once (no blob to
 * fetch, so no promise to wait on); undefined for every other outcome (see unwrapOutcome).
 */
export function inlineSuccess(outcome: CallOutcome): { value: unknown } | undefined {
  if (outcome.kind !== "result" || outcome.result.status !== "success") return undefined;
  const data = outcome.result.data;
  return data instanceof Uint8Array ? { value: decodePayload(data) } : undefined;
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
