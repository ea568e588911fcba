import type { EventMap, InputColumnsWire, Message, Payload, RequestMessage } from "./messages.js";
import type { PackedPayloads } from "./packed.js";

/**
 * Compact frames for the four messages of a warm `.remote` (call, input, result, outcome):
 * positional CBOR arrays instead of objects. Encoding and decoding an object's keys was most
 * of what those messages cost on every side (about 3× a tuple's time to decode, 2× to encode,
 * 2–3× the bytes). A peer says in its hello the version of these it reads and writes (`hot`);
 * the server answers with the version both use, and each side sends them only then. A peer
 * that says nothing (an older client or container runtime) gets, and sends, objects only.
 * Decoders take both forms: a tuple is expanded to the message it stands for, so nothing past
 * the frame decoder sees a difference.
 */
export const HOT_FRAMES_VERSION = 2;

/** First element of each tuple. */
export const HOT_CALL = 1;
export const HOT_OUTCOME = 2;
export const HOT_INPUTS = 3;
export const HOT_OUTPUTS = 4;
/** Version 2: a web request's whole answer (`web.answer`). */
export const HOT_WEB = 5;

/**
 * `call.create` of a `.remote` (kind "remote", await): `[1, id, functionId, args, idempotencyKey]`,
 * then `parentInputId` (or null) and `method` where set.
 */
export type HotCall =
  | [typeof HOT_CALL, number, string, Payload, string]
  | [typeof HOT_CALL, number, string, Payload, string, string | null]
  | [typeof HOT_CALL, number, string, Payload, string, string | null, string];
/** The reply to a call.create whose outcome is an inline success: `[2, id, callId, data]`. */
export type HotOutcome = [typeof HOT_OUTCOME, number, string, Uint8Array];
/** One group of `inputs.cols`: `[3, callId, timeoutMs, seq0, inputIds, attempts, args]`, then `method` where set. */
export type HotInputs =
  | [typeof HOT_INPUTS, string, number, number, string[], number[], Payload[] | PackedPayloads]
  | [typeof HOT_INPUTS, string, number, number, string[], number[], Payload[] | PackedPayloads, string];
/** `outputs.cols`: `[4, seqs, data, durationsMs]`. */
export type HotOutputs = [typeof HOT_OUTPUTS, number[], Payload[] | PackedPayloads, number[]];

/** `web.answer`: `[5, seq, item, durationMs]` (only to a server that agreed on version 2). */
export type HotWeb = [typeof HOT_WEB, number, Uint8Array, number];

export type HotTuple = HotCall | HotOutcome | HotInputs | HotOutputs | HotWeb;

/** What a sender queues: messages, and tuples it made itself (the server's outcomes). */
export type Outgoing = Message | HotTuple;

/** The hot version both sides use, from what a peer said in its hello (0: none, objects only). */
export function agreeHot(said: unknown): number {
  return typeof said === "number" && Number.isInteger(said) && said >= 1 ? Math.min(said, HOT_FRAMES_VERSION) : 0;
}

/**
 * Appends `m` to `out` as it goes on a connection that speaks hot frames: a `.remote`'s
 * call.create, each group of an inputs.cols and an outputs.cols as tuples, the rest as they are.
 */
export function pushHot(out: unknown[], m: Outgoing): void {
  if (Array.isArray(m)) {
    out.push(m);
    return;
  }
  switch (m.t) {
    case "call.create": {
      const { id, p } = m as RequestMessage<"call.create">;
      if (p.kind !== "remote" || p.await !== true) break;
      if (p.method !== undefined)
        out.push([HOT_CALL, id, p.functionId, p.args, p.idempotencyKey, p.parentInputId ?? null, p.method]);
      else if (p.parentInputId !== undefined)
        out.push([HOT_CALL, id, p.functionId, p.args, p.idempotencyKey, p.parentInputId]);
      else out.push([HOT_CALL, id, p.functionId, p.args, p.idempotencyKey]);
      return;
    }
    case "inputs.cols":
      for (const g of (m as { b: EventMap["inputs.cols"] }).b.groups) {
        if (g.method !== undefined)
          out.push([HOT_INPUTS, g.callId, g.timeoutMs, g.seq0, g.inputIds, g.attempts, g.args, g.method]);
        else out.push([HOT_INPUTS, g.callId, g.timeoutMs, g.seq0, g.inputIds, g.attempts, g.args]);
      }
      return;
    case "outputs.cols": {
      const b = (m as { b: EventMap["outputs.cols"] }).b;
      out.push([HOT_OUTPUTS, b.seqs, b.data, b.durationsMs]);
      return;
    }
    case "web.answer": {
      // Sent only on a connection of version 2 (the sender checks): the tuple is its only form.
      const b = (m as { b: EventMap["web.answer"] }).b;
      out.push([HOT_WEB, b.seq, b.item, b.durationMs]);
      return;
    }
  }
  out.push(m);
}

/** A call.create reply as a tuple, where its outcome is an inline success; else undefined. */
export function hotOutcome(id: number, r: unknown): HotOutcome | undefined {
  if (typeof r !== "object" || r === null) return undefined;
  const { callId, outcome } = r as {
    callId?: unknown;
    outcome?: { kind?: string; result?: { status?: string; data?: unknown } };
  };
  if (typeof callId !== "string" || outcome?.kind !== "result") return undefined;
  const result = outcome.result;
  if (result?.status !== "success" || !(result.data instanceof Uint8Array)) return undefined;
  return [HOT_OUTCOME, id, callId, result.data];
}

const isStr = (x: unknown): x is string => typeof x === "string";
const isNum = (x: unknown): x is number => typeof x === "number";
const isPayload = (x: unknown): x is Payload =>
  x instanceof Uint8Array ||
  (typeof x === "object" && x !== null && typeof (x as { blob?: unknown }).blob === "string");

/**
 * The message a tuple stands for; a string saying what is wrong with it when it is not one
 * (the frame decoder refuses the frame). Fields past the tuple's shape (arrays, numbers) are
 * checked where the message is used, as for objects.
 */
export function fromHot(x: unknown[]): Message | string {
  switch (x[0]) {
    case HOT_CALL: {
      const [, id, functionId, args, idempotencyKey, parentInputId, method] = x;
      if (
        x.length < 5 ||
        x.length > 7 ||
        !isNum(id) ||
        !isStr(functionId) ||
        !isPayload(args) ||
        !isStr(idempotencyKey)
      )
        return "a call tuple needs id, functionId, args and idempotencyKey";
      if (
        (parentInputId !== undefined && parentInputId !== null && !isStr(parentInputId)) ||
        (method !== undefined && !isStr(method))
      )
        return "a call tuple's parentInputId and method must be strings";
      const p: RequestMessage<"call.create">["p"] = { functionId, kind: "remote", args, idempotencyKey, await: true };
      if (isStr(parentInputId)) p.parentInputId = parentInputId;
      if (method !== undefined) p.method = method;
      return { t: "call.create", id, p } as RequestMessage;
    }
    case HOT_OUTCOME: {
      const [, id, callId, data] = x;
      if (x.length !== 4 || !isNum(id) || !isStr(callId) || !(data instanceof Uint8Array))
        return "an outcome tuple needs id, callId and data";
      return {
        t: "reply",
        id,
        ok: true,
        r: { callId, outcome: { kind: "result", result: { status: "success", data } } },
      };
    }
    case HOT_INPUTS: {
      const [, callId, timeoutMs, seq0, inputIds, attempts, args, method] = x;
      if (
        x.length < 7 ||
        x.length > 8 ||
        !isStr(callId) ||
        !isNum(timeoutMs) ||
        !isNum(seq0) ||
        !Array.isArray(inputIds) ||
        !Array.isArray(attempts) ||
        typeof args !== "object" ||
        args === null ||
        (method !== undefined && !isStr(method))
      )
        return "an inputs tuple needs callId, timeoutMs, seq0, inputIds, attempts and args";
      const g: InputColumnsWire = {
        callId,
        timeoutMs,
        seq0,
        inputIds,
        attempts,
        args: args as InputColumnsWire["args"],
      };
      if (method !== undefined) g.method = method;
      return { t: "inputs.cols", b: { groups: [g] } };
    }
    case HOT_OUTPUTS: {
      const [, seqs, data, durationsMs] = x;
      if (
        x.length !== 4 ||
        !Array.isArray(seqs) ||
        typeof data !== "object" ||
        data === null ||
        !Array.isArray(durationsMs)
      )
        return "an outputs tuple needs seqs, data and durationsMs";
      return { t: "outputs.cols", b: { seqs, data: data as EventMap["outputs.cols"]["data"], durationsMs } };
    }
    case HOT_WEB: {
      const [, seq, item, durationMs] = x;
      if (x.length !== 4 || !isNum(seq) || !(item instanceof Uint8Array) || !isNum(durationMs))
        return "a web answer tuple needs seq, item (bytes) and durationMs";
      return { t: "web.answer", b: { seq, item, durationMs } };
    }
  }
  return `unknown tuple ${String(x[0])}`;
}
