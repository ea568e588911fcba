import {
  decodePayload,
  INLINE_PAYLOAD_BYTES,
  type MapInputWire,
  type MapOutputWire,
  newId,
  type ResultWire,
  unpackPayloads,
} from "@skiff/protocol";
import type { CallTarget } from "./call-target.js";
import type { Client } from "./client.js";
import { currentInputId } from "./context.js";
import { InvalidError, SkiffError, UserCodeError } from "./errors.js";
import { runFlatMap } from "./flat-map.js";
import { MapLink, PUT_BATCH } from "./map-resume.js";
import { didYouMean } from "./nearest.js";
import { encodeForWire, toPayload, unwrapResult } from "./payloads.js";
import { Wakeup } from "./transport/wakeup.js";

export interface MapParams {
  /** Yield results in input order (true) or as they finish (false). @defaultValue true */
  orderOutputs?: boolean;
  /** Yield a failed input as a UserCodeError instead of ending the map. @defaultValue false */
  returnExceptions?: boolean;
}

export interface ForEachParams {
  /** Keep going when an input fails. @defaultValue false */
  ignoreExceptions?: boolean;
}

/** The results of a map: an AsyncIterable, with `toArray()` (Node 20 has no Array.fromAsync). */
export class MapResult<T> implements AsyncIterable<T> {
  constructor(private readonly make: () => AsyncGenerator<T>) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.make();
  }

  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const x of this) out.push(x);
    return out;
  }
}

/** What one input became on the client: sent, or failed here before sending. */
type Local = { kind: "result"; result: ResultWire } | { kind: "error"; error: Error };

function isIterable(v: unknown): v is Iterable<unknown> | AsyncIterable<unknown> {
  return v != null && typeof v === "object" && (Symbol.iterator in v || Symbol.asyncIterator in v);
}

/** The options each fan-out takes: a key outside its list is refused, not silently ignored. */
export const MAP_OPTION_KEYS = ["orderOutputs", "returnExceptions"] as const satisfies readonly (keyof MapParams)[];
export const FOR_EACH_OPTION_KEYS = ["ignoreExceptions"] as const satisfies readonly (keyof ForEachParams)[];

/**
 * Splits `map(xs, ys, …, options?)`: a trailing plain object that is not iterable is the options.
 * An unknown option (a typo such as `orderOutput`) or a non-boolean value is an InvalidError:
 * a plain-JavaScript caller gets no type check, and an ignored option changes results quietly.
 */
export function splitMapArgs<O extends object>(
  args: unknown[],
  what: string,
  known: readonly (keyof O & string)[],
): [Array<Iterable<unknown> | AsyncIterable<unknown>>, O] {
  let opts = {} as O;
  const rest = [...args];
  const last = rest[rest.length - 1];
  if (
    rest.length > 0 &&
    last !== null &&
    typeof last === "object" &&
    !isIterable(last) &&
    Object.getPrototypeOf(last) === Object.prototype
  ) {
    opts = rest.pop() as O;
    for (const [key, value] of Object.entries(opts)) {
      if (!(known as readonly string[]).includes(key))
        throw new InvalidError(
          `${what}: unknown option "${key}"${didYouMean(key, known)} (it takes ${known.join(", ")})`,
        );
      if (value !== undefined && typeof value !== "boolean")
        throw new InvalidError(`${what}: option ${key} must be a boolean, got ${typeof value}`);
    }
  }
  rest.forEach((it, i) => {
    if (!isIterable(it)) throw new InvalidError(`${what}: input ${i} is not an array, iterable or async iterable`);
  });
  if (rest.length === 0) throw new InvalidError(`${what}: give at least one iterable of inputs`);
  return [rest as Array<Iterable<unknown> | AsyncIterable<unknown>>, opts];
}

/** Argument lists for a map, pulled one at a time; a plain iterable answers without a promise. */
export interface ArgSource {
  next(): IteratorResult<unknown[]> | Promise<IteratorResult<unknown[]>>;
  return?(value?: undefined): unknown;
}

/**
 * The argument lists of `map(...sources)`. One synchronous iterable (an array, a generator) is
 * read without a promise per input, which matters at hundreds of thousands of inputs a second.
 */
export function argSource(sources: Array<Iterable<unknown> | AsyncIterable<unknown>>): ArgSource {
  const only = sources[0];
  if (sources.length === 1 && only && !(Symbol.asyncIterator in only) && Symbol.iterator in only) {
    const it = (only as Iterable<unknown>)[Symbol.iterator]();
    return {
      next: () => {
        const s = it.next();
        return s.done ? { done: true, value: undefined } : { done: false, value: [s.value] };
      },
      return: () => it.return?.(),
    };
  }
  return zipArgs(sources);
}

/**
 * Zips iterables into argument lists. Iterables of different lengths are an error (naming the
 * one that ran out), not a silent truncation: no input is dropped unseen.
 */
export async function* zipArgs(sources: Array<Iterable<unknown> | AsyncIterable<unknown>>): AsyncGenerator<unknown[]> {
  if (sources.length === 1) {
    // One iterable: no lock-step needed.
    for await (const x of sources[0] as AsyncIterable<unknown>) yield [x];
    return;
  }
  const its = sources.map((s) =>
    Symbol.asyncIterator in s
      ? (s as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (s as Iterable<unknown>)[Symbol.iterator](),
  );
  try {
    for (let n = 0; ; n++) {
      const steps = await Promise.all(its.map((it) => it.next()));
      const ended = steps.filter((s) => s.done).length;
      if (ended === steps.length) return;
      if (ended > 0) {
        const which = steps.findIndex((s) => s.done);
        throw new InvalidError(
          `map: the iterables have different lengths (input ${which} ended after ${n} items, others go on)`,
        );
      }
      yield steps.map((s) => s.value);
    }
  } finally {
    for (const it of its) await it.return?.();
  }
}

/**
 * Runs one fan-out call. Inputs are pulled from `argLists` only while fewer than the server's
 * window are outstanding, so a generator of millions of inputs runs in bounded memory; results
 * held for ordering are bounded by the same window. Leaving early cancels the rest.
 */
/** What a map calls, known once its handle is resolved. */
export interface FanOutTarget {
  client: Client;
  target: CallTarget;
  /** "app.name" for messages. */
  what: string;
  isGenerator: boolean;
}

export async function* runMap(
  resolve: () => Promise<FanOutTarget>,
  argLists: ArgSource,
  params: MapParams,
): AsyncGenerator<unknown> {
  // Resolved here rather than in a wrapping generator: a `yield*` layer costs promises per item.
  const { client, target, what, isGenerator } = await resolve();
  // Mapping a generator function is a flat map of its streams.
  if (isGenerator) {
    yield* runFlatMap(client, target, what, argLists, params);
    return;
  }
  const ordered = params.orderOutputs ?? true;
  const parentInputId = currentInputId();
  // Retryable: a server stopping gracefully leaves it unanswered for the next one. (Sent twice
  // after a crash, the first map is an orphan the server cancels within its resume window.)
  const { callId, window, columns, packed } = await client.request(
    "map.start",
    {
      ...target,
      idempotencyKey: newId("ik"),
      ...(parentInputId ? { parentInputId } : {}),
      columns: true,
      packed: true,
    },
    { retryable: true },
  );
  const conn = client._connection;
  const release = conn.hold();
  const arrived: MapOutputWire[] = [];
  const wakeup = new Wakeup();
  // Holds what was sent until its output arrives, and takes the map back after a dropped
  // connection or a restart of the server.
  const link = new MapLink(client, callId, what, () => wakeup.poke(), columns === true, packed === true);
  const stopSink = client._onMapOutputs(callId, ({ items, idxs, data }) => {
    for (const it of items) if (link.take(it.idx)) arrived.push(it);
    // Successes as columns (map.start asked for them), their data a list or packed.
    const list = idxs && data ? unpackPayloads(data, idxs.length) : undefined;
    if (idxs && list)
      for (let i = 0; i < idxs.length; i++) {
        const idx = idxs[i]!;
        if (link.take(idx)) arrived.push({ idx, result: { status: "success", data: list[i]! } });
      }
    else if (idxs && data)
      link.fail(new SkiffError(`${what}: the server sent map outputs whose data does not match them`));
    wakeup.poke();
  });
  const stopDrop = conn.onDisconnect(() => link.dropped());

  const held = new Map<number, Local>(); // finished, waiting for their turn (ordered mode)
  let sent = 0; // inputs taken from the iterator (sent, or failed locally)
  let finished = 0; // results received or local failures
  let next = 0; // next index to yield in ordered mode
  let exhausted = false;
  let ended = false;
  let completed = false;
  let failed = 0;
  // Read once: a map started before a listener was set reports nothing.
  const progress = client._mapProgress;
  const report = (ended: boolean) =>
    progress?.({ callId, what, done: finished, failed, total: exhausted ? sent : undefined, ended });

  try {
    for (;;) {
      if (link.failure) throw link.failure;
      // Pull more inputs while the window allows.
      let batch: MapInputWire[] = [];
      while (!exhausted && sent - finished < window && batch.length < PUT_BATCH) {
        let step = argLists.next();
        if (step instanceof Promise) step = await step;
        if (step.done) {
          exhausted = true;
          break;
        }
        const idx = sent++;
        let bytes: Uint8Array;
        try {
          bytes = encodeForWire(step.value, `map input ${idx}: args`);
        } catch (err) {
          held.set(idx, { kind: "error", error: err as Error });
          finished++;
          continue;
        }
        batch.push({ idx, args: bytes.byteLength <= INLINE_PAYLOAD_BYTES ? bytes : await toPayload(bytes, client) });
        if (arrived.length > 0) break; // results are waiting: hand them out first
      }
      if (batch.length > 0) link.put(batch);
      batch = [];
      if (exhausted && !ended) {
        ended = true;
        link.end(sent);
      }
      // Hand out what has finished.
      const before = finished;
      for (const out of arrived.splice(0)) {
        finished++;
        if (out.result.status !== "success") failed++;
        held.set(out.idx, { kind: "result", result: out.result });
      }
      // Once per batch of results, not per input.
      if (progress && finished !== before) report(false);
      const ready: Local[] = [];
      if (ordered) {
        while (held.has(next)) {
          ready.push(held.get(next)!);
          held.delete(next++);
        }
      } else {
        for (const [idx, r] of held) {
          ready.push(r);
          held.delete(idx);
        }
      }
      for (const r of ready) {
        if (r.kind === "error") {
          if (params.returnExceptions) yield new UserCodeError(r.error);
          else throw r.error;
          continue;
        }
        try {
          const res = r.result;
          // An inline success decodes here and now; blobs and failures take the general path.
          if (res.status === "success" && res.data instanceof Uint8Array) yield decodePayload(res.data);
          else yield await unwrapResult(res, client, what);
        } catch (err) {
          if (!params.returnExceptions) throw err;
          yield err instanceof Error && !(err instanceof SkiffError) ? new UserCodeError(err) : err;
        }
      }
      if (exhausted && finished === sent && held.size === 0) {
        completed = true;
        return;
      }
      if (link.failure) throw link.failure;
      if (arrived.length === 0 && (exhausted || sent - finished >= window)) {
        await wakeup.wait();
      }
    }
  } finally {
    if (progress) report(true);
    stopSink();
    stopDrop();
    release();
    if (!completed) void client.request("call.cancel", { callId, terminateContainers: false }).catch(() => {});
    await argLists.return?.(undefined);
  }
}
