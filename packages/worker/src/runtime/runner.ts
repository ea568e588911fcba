import {
  decodePayload,
  encodeCbor,
  encodePayload,
  GENERATOR_WINDOW,
  type InputWire,
  isThenable,
  type OutputWire,
  type Payload,
  type ResultWire,
} from "@skiff/protocol";
import { type Client, fromPayload, getBlob, type InputContext, inlinePayload, toPayload } from "skiff";
import { inputStorage } from "./input-context.js";
import type { Target } from "./target.js";
import type { ThreadPool } from "./thread-pool.js";

/** Turns anything thrown into an Error the caller can read, and encodes it. */
export function encodeError(err: unknown): Uint8Array {
  let e: Error;
  if (err instanceof Error) e = err;
  else {
    let shown: string;
    try {
      shown = typeof err === "string" ? JSON.stringify(err) : String(err);
    } catch {
      shown = Object.prototype.toString.call(err);
    }
    e = new Error(`function threw a non-Error value: ${shown}`);
  }
  try {
    return encodePayload(e, "error");
  } catch {
    // The error itself holds something unsendable (a function in a field): keep what we can.
    const plain = new Error(e.message);
    plain.name = e.name;
    if (e.stack !== undefined) plain.stack = e.stack;
    return encodePayload(plain, "error");
  }
}

/**
 * What `currentInput()` returns. The AbortSignal is made only when user code asks for it:
 * most inputs never look, and a controller per input is measurable at high input rates.
 */
export class RunningInputContext implements InputContext {
  private controller: AbortController | undefined;
  private reason: Error | undefined;

  constructor(
    readonly id: string,
    readonly functionCallId: string,
    readonly attempt: number,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  abort(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

export interface RunningInput {
  wire: InputWire;
  ctx: RunningInputContext;
  /** Set for an input of a batch: the batch's context, aborted once all its inputs are. */
  batch?: { ctx: RunningInputContext; members: RunningInput[] };
  /** Generators: items the consumer has taken, and a wake-up for a paused generator. */
  acked: number;
  wake: (() => void) | undefined;
}

export interface RunnerOptions {
  /** Set when inputs run on worker threads (`concurrency.threads`). */
  pool?: ThreadPool;
  /** Generator items in flight; a web endpoint's are up to 64 KiB each, so it passes fewer. */
  window?: number;
  /** Inputs run at once; more handed out (prefetched) wait here. */
  maxInputs?: number;
  /** Yielded items are the SDK's own (web responses): encoded without the per-value checks. */
  trustedItems?: boolean;
  /**
   * A web endpoint's requests served without a generator (the SDK's WebDirect): the one whole
   * item of a response is sent as the generator's one item would be, then the output.
   */
  webDirect?: (w: never) => unknown;
  /**
   * Sends a web request's whole answer as one message (`web.answer`: its item and its end):
   * false when the server does not read it (an older one), and the item and the output go as
   * they otherwise do.
   */
  answerWeb?: (seq: number, item: Uint8Array, durationMs: number) => boolean;
}

/** The result of a generator (a web request) that ran to its end: what `undefined` encodes to. */
const ENDED: ResultWire = { status: "success", data: encodePayload(undefined, "result") };

function isIterator(v: unknown): v is AsyncIterator<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { next?: unknown }).next === "function";
}

/**
 * Inputs that wait here start one after another without leaving the current event-loop turn
 * (an async function that returns at once resolves in microtasks), and outputs leave at the
 * end of the turn. So after this long of such a run, the next waiting input starts in the
 * next turn instead: the outputs so far go out first, and the server refills this container
 * while it works through the rest, rather than after it has run dry.
 */
const TURN_MS = 0.5;

/** Sends a generator's yielded items (batched per tick by the connection). */
export type ItemSink = (inputId: string, attempt: number, items: Payload[]) => void;

/**
 * Runs inputs of one function (or class instance) and reports each outcome once, at most
 * `maxInputs` at a time. The server may hand out a few more for very short functions
 * (prefetch, so the next ones are here when a slot frees); those wait here, in order.
 */
export class InputRunner {
  readonly running = new Map<string, RunningInput>();
  /** Handed out, not started yet: at most what the server prefetches (bounded by it). */
  private waiting: InputWire[] = [];

  private readonly pool: ThreadPool | undefined;
  private readonly window: number;
  private readonly maxInputs: number;
  private readonly trustedItems: boolean;
  private readonly webDirect: ((w: never) => unknown) | undefined;
  private readonly answerWeb: RunnerOptions["answerWeb"];
  /** When the current event-loop turn's run of inputs began (`performance.now()`), or NaN outside one. */
  private turnStart = Number.NaN;

  constructor(
    private readonly target: Target,
    private readonly client: Client,
    private readonly report: (out: OutputWire) => void,
    private readonly sendItems: ItemSink,
    opts: RunnerOptions = {},
  ) {
    this.pool = opts.pool;
    this.window = opts.window ?? GENERATOR_WINDOW;
    this.maxInputs = opts.maxInputs ?? Number.POSITIVE_INFINITY;
    this.trustedItems = opts.trustedItems ?? false;
    this.webDirect = opts.webDirect;
    this.answerWeb = opts.answerWeb;
  }

  /** Inputs started or waiting: none means the container is idle. */
  get busy(): number {
    return this.running.size + this.waiting.length;
  }

  /** The consumer took `consumed` more items of a generator input. */
  ack(inputId: string, consumed: number): void {
    const r = this.running.get(inputId);
    if (!r) return;
    r.acked += consumed;
    const w = r.wake;
    r.wake = undefined;
    w?.();
  }

  start(wire: InputWire): void {
    // In order: while an earlier one waits for the next turn (startNext), a new one waits behind it.
    if (this.running.size >= this.maxInputs || this.waiting.length > 0) {
      this.waiting.push(wire);
      return;
    }
    this.begin(wire);
  }

  // No closure is kept in a `const` on the per-input path: the runtime bundle keeps function
  // names (esbuild keepNames), which names each such closure as it is made (a defineProperty
  // per input).
  private begin(wire: InputWire): void {
    const ctx = new RunningInputContext(wire.inputId, wire.callId, wire.attempt);
    this.running.set(wire.inputId, { wire, ctx, acked: 0, wake: undefined });
    const started = performance.now();
    if (this.webDirect !== undefined && this.pool === undefined && wire.args instanceof Uint8Array)
      this.runWeb(wire, wire.args, ctx, started);
    // Generators stream from the main thread, even in a container whose other inputs use threads.
    else if (this.pool !== undefined && !this.target.isGenerator(wire.method))
      void this.runOnThread(wire).then((result) => this.finish(wire, started, result));
    else if (this.pool !== undefined || !(wire.args instanceof Uint8Array) || this.target.isGenerator(wire.method))
      void this.run(wire, ctx).then((result) => this.finish(wire, started, result));
    else this.runInline(wire, wire.args, ctx, started);
  }

  /** Reports an input's outcome (once) and starts the next waiting one. */
  private finish(wire: InputWire, started: number, result: ResultWire): void {
    if (!this.running.has(wire.inputId)) return;
    this.running.delete(wire.inputId);
    const now = performance.now();
    this.report({ inputId: wire.inputId, attempt: wire.attempt, seq: wire.seq, result, durationMs: now - started });
    if (this.waiting.length > 0) this.startNext(now);
  }

  /**
   * The common case (inline arguments, no threads, not a generator) without an async function
   * around it: at map rates, each promise per input (and the async-context hook each one runs)
   * is measurable. The same outcomes as run(); a plain function's output is reported at once.
   */
  private runInline(wire: InputWire, bytes: Uint8Array, ctx: RunningInputContext, started: number): void {
    let value: unknown;
    let pending: Promise<unknown> | undefined;
    try {
      const args = decodePayload(bytes);
      if (!Array.isArray(args)) throw new Error("arguments must be an array");
      value = inputStorage.run(ctx, () => this.target.invoke(wire.method, args));
      // As `await` would: a thenable is followed (reading its `then` may throw: a failure too).
      if (isThenable(value)) pending = Promise.resolve(value);
    } catch (err) {
      this.finish(wire, started, { status: "failure", error: encodeError(err) });
      return;
    }
    if (pending)
      pending.then(
        (v) => this.settle(wire, started, v),
        (err) => this.finish(wire, started, { status: "failure", error: encodeError(err) }),
      );
    else this.settle(wire, started, value);
  }

  /**
   * A web request with no generator pipeline around it (webDirect): a whole response is one
   * item, sent and then reported in the same turn as a generator's would be (items before the
   * output, in one frame); a response that streams is drained as a generator's items, with the
   * same window and cancellation. No promise is made unless the handler makes one.
   */
  private runWeb(wire: InputWire, bytes: Uint8Array, ctx: RunningInputContext, started: number): void {
    let out: unknown;
    try {
      const args = decodePayload(bytes);
      if (!Array.isArray(args)) throw new Error("arguments must be an array");
      out = inputStorage.run(ctx, this.webDirect!, args[0] as never);
    } catch (err) {
      this.finish(wire, started, { status: "failure", error: encodeError(err) });
      return;
    }
    if (isThenable(out))
      Promise.resolve(out).then(
        (v) => this.webAnswer(wire, ctx, started, v),
        (err) => this.finish(wire, started, { status: "failure", error: encodeError(err) }),
      );
    else this.webAnswer(wire, ctx, started, out);
  }

  private webAnswer(wire: InputWire, ctx: RunningInputContext, started: number, v: unknown): void {
    if (!this.running.has(wire.inputId)) return; // failed meanwhile (failAll)
    if (isIterator(v)) {
      inputStorage
        .run(ctx, () => this.drain(wire, v, ctx))
        .then(
          () => this.finish(wire, started, ENDED),
          (err) => this.finish(wire, started, { status: "failure", error: encodeError(err) }),
        );
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeCbor(v);
    } catch (err) {
      this.finish(wire, started, { status: "failure", error: encodeError(err) });
      return;
    }
    const inline = inlinePayload(bytes);
    if (inline) {
      if (this.answerWeb !== undefined && wire.seq !== undefined) {
        const now = performance.now();
        if (this.answerWeb(wire.seq, inline, now - started)) {
          // What finish() does, the output being in the message sent.
          this.running.delete(wire.inputId);
          if (this.waiting.length > 0) this.startNext(now);
          return;
        }
      }
      this.sendItems(wire.inputId, wire.attempt, [inline]);
      this.finish(wire, started, ENDED);
    } else
      toPayload(bytes, this.client).then(
        (data) => {
          if (!this.running.has(wire.inputId)) return;
          this.sendItems(wire.inputId, wire.attempt, [data]);
          this.finish(wire, started, ENDED);
        },
        (err) => this.finish(wire, started, { status: "failure", error: encodeError(err) }),
      );
  }

  /** Encodes a returned value as the input's result (a blob when it is large). */
  private settle(wire: InputWire, started: number, value: unknown): void {
    let bytes: Uint8Array;
    try {
      bytes = encodePayload(value, "result");
    } catch (err) {
      this.finish(wire, started, { status: "failure", error: encodeError(err) });
      return;
    }
    const inline = inlinePayload(bytes);
    if (inline) this.finish(wire, started, { status: "success", data: inline });
    else
      toPayload(bytes, this.client).then(
        (data) => this.finish(wire, started, { status: "success", data }),
        (err) => this.finish(wire, started, { status: "failure", error: encodeError(err) }),
      );
  }

  /** A slot freed at `now` and inputs wait: starts the next, now or in the next turn (TURN_MS). */
  private startNext(now: number): void {
    if (Number.isNaN(this.turnStart)) {
      this.turnStart = now;
      setImmediate(() => {
        this.turnStart = Number.NaN;
      });
    } else if (now - this.turnStart >= TURN_MS) {
      // setImmediate runs in order: the outputs' flush, queued earlier in this turn, goes first.
      setImmediate(() => this.fill());
      return;
    }
    this.fill();
  }

  /** Starts waiting inputs while slots are free. */
  private fill(): void {
    while (this.running.size < this.maxInputs) {
      const next = this.waiting.shift();
      if (!next) return;
      this.begin(next);
    }
  }

  /**
   * Gives back the inputs among `inputIds` that wait here, not started (the server hands them
   * to an idle container): they will not run here. Returns them.
   */
  revoke(inputIds: string[]): { inputId: string; attempt: number }[] {
    if (this.waiting.length === 0) return [];
    const ids = new Set(inputIds);
    const back = this.waiting.filter((w) => ids.has(w.inputId));
    if (back.length > 0) this.waiting = this.waiting.filter((w) => !ids.has(w.inputId));
    return back.map((w) => ({ inputId: w.inputId, attempt: w.attempt }));
  }

  /**
   * Runs the inputs of one batch (a batched function, api.md §2) as one call: each parameter
   * gets the array of that argument across the inputs, and the function must return one output
   * per input, in order. Each input is answered on its own; a batch that fails fails them all.
   */
  startBatch(wires: InputWire[], what: string): void {
    const first = wires[0];
    if (!first) return;
    const ctx = new RunningInputContext(first.inputId, first.callId, first.attempt);
    const members: RunningInput[] = [];
    const batch = { ctx, members };
    for (const wire of wires) {
      const r: RunningInput = {
        wire,
        ctx: new RunningInputContext(wire.inputId, wire.callId, wire.attempt),
        acked: 0,
        wake: undefined,
        batch,
      };
      members.push(r);
      this.running.set(wire.inputId, r);
    }
    const started = performance.now();
    void this.runBatch(wires, ctx, what).then((results) => {
      const durationMs = performance.now() - started;
      wires.forEach((wire, i) => {
        if (!this.running.has(wire.inputId)) return;
        this.running.delete(wire.inputId);
        this.report({ inputId: wire.inputId, attempt: wire.attempt, seq: wire.seq, result: results[i]!, durationMs });
      });
    });
  }

  private async runBatch(wires: InputWire[], ctx: RunningInputContext, what: string): Promise<ResultWire[]> {
    const failAll = (err: unknown): ResultWire[] => {
      const error = encodeError(err);
      return wires.map(() => ({ status: "failure", error }));
    };
    const columns: unknown[][] = [];
    try {
      for (const [i, wire] of wires.entries()) {
        const args =
          wire.args instanceof Uint8Array
            ? decodePayload(wire.args)
            : await fromPayload(wire.args as Payload, this.client);
        if (!Array.isArray(args)) throw new Error("arguments must be an array");
        args.forEach((a, j) => {
          columns[j] ??= new Array(wires.length);
          columns[j]![i] = a;
        });
      }
    } catch (err) {
      return failAll(err);
    }
    let value: unknown;
    try {
      value = await inputStorage.run(ctx, () => this.target.invoke(wires[0]!.method, columns));
    } catch (err) {
      return failAll(err);
    }
    if (!Array.isArray(value) || value.length !== wires.length) {
      const got = Array.isArray(value)
        ? `${value.length} output${value.length === 1 ? "" : "s"}`
        : `${value === null ? "null" : typeof value}, not an array`;
      return failAll(
        Object.assign(
          new Error(
            `${what} is batched: it takes an array of inputs per parameter and must return an array with one output per input, in order; for a batch of ${wires.length} input${wires.length === 1 ? "" : "s"} it returned ${got}`,
          ),
          { name: "BatchError" },
        ),
      );
    }
    const out: ResultWire[] = [];
    for (const [i, v] of value.entries()) {
      try {
        const bytes = encodePayload(v, `result[${i}]`);
        out.push({
          status: "success",
          data: inlinePayload(bytes) ?? (await toPayload(bytes, this.client)),
        });
      } catch (err) {
        out.push({ status: "failure", error: encodeError(err) });
      }
    }
    return out;
  }

  cancel(inputIds: string[], reason: string): void {
    if (this.waiting.length > 0) {
      // Not started: answered at once, so the server does not wait on them.
      const ids = new Set(inputIds);
      const dropped = this.waiting.filter((w) => ids.has(w.inputId));
      this.waiting = this.waiting.filter((w) => !ids.has(w.inputId));
      for (const w of dropped) {
        const error = encodeError(new Error(`input ${reason} before it started`));
        this.report({
          inputId: w.inputId,
          attempt: w.attempt,
          seq: w.seq,
          result: { status: "failure", error },
          durationMs: 0,
        });
      }
    }
    for (const id of inputIds) {
      const r = this.running.get(id);
      r?.ctx.abort(new Error(`input ${reason}`));
      // A batch's own signal fires once every input of it is cancelled or timed out.
      const batch = r?.batch;
      if (batch?.members.every((m) => m.ctx.aborted)) batch.ctx.abort(new Error(`batch ${reason}`));
      // A generator paused for its consumer wakes up to stop.
      const wake = r?.wake;
      if (r) r.wake = undefined;
      wake?.();
      this.pool?.cancel(id, reason);
    }
  }

  private async runOnThread(wire: InputWire): Promise<ResultWire> {
    try {
      const args = wire.args instanceof Uint8Array ? wire.args : await getBlob(this.client, wire.args.blob);
      return await this.pool!.run(wire, args);
    } catch (err) {
      return { status: "failure", error: encodeError(err) };
    }
  }

  /** Fails every running input (the process is about to die). */
  failAll(err: unknown): void {
    const error = encodeError(err);
    // Not started: left unanswered, the server hands them out again when this container is gone.
    this.waiting = [];
    for (const [id, r] of this.running) {
      this.running.delete(id);
      this.report({
        inputId: id,
        attempt: r.wire.attempt,
        seq: r.wire.seq,
        result: { status: "failure", error },
        durationMs: 0,
      });
    }
  }

  /**
   * Streams a generator's items, pausing while a window of them wait for the consumer,
   * so a slow consumer slows the generator and nothing piles up in memory.
   */
  private async drain(
    wire: InputWire,
    it: AsyncIterator<unknown> | Iterator<unknown>,
    ctx: RunningInputContext,
  ): Promise<void> {
    const r = this.running.get(wire.inputId)!;
    let sent = 0;
    let batch: Payload[] = [];
    let flushScheduled = false;
    const flush = () => {
      flushScheduled = false;
      if (batch.length === 0) return;
      const items = batch;
      batch = [];
      this.sendItems(wire.inputId, wire.attempt, items);
    };
    try {
      for (;;) {
        if (ctx.aborted) return;
        const step = await it.next();
        if (step.done) break;
        const bytes = this.trustedItems ? encodeCbor(step.value) : encodePayload(step.value, `yield[${sent}]`);
        batch.push(inlinePayload(bytes) ?? (await toPayload(bytes, this.client)));
        sent++;
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
        while (sent - r.acked >= this.window && !ctx.aborted) {
          flush();
          await new Promise<void>((res) => {
            r.wake = res; // by an ack, or by cancel()
          });
        }
      }
    } finally {
      // Items still batched leave now, before the output is reported: the flush scheduled for
      // them may run after the outputs' (another input's output, reported earlier in this turn,
      // scheduled that one first), and an end that overtakes its items loses them. Both still
      // share the connection's next frame.
      flush();
      if (ctx.aborted) await it.return?.();
    }
  }

  private async run(wire: InputWire, ctx: RunningInputContext): Promise<ResultWire> {
    let args: unknown;
    try {
      // With threads, the main thread's own instance is set up only if an input runs here.
      if (this.pool) await this.target.enter();
      // Inline arguments decode here and now; only blob references need a round trip.
      args =
        wire.args instanceof Uint8Array
          ? decodePayload(wire.args)
          : await fromPayload(wire.args as Payload, this.client);
      if (!Array.isArray(args)) throw new Error("arguments must be an array");
    } catch (err) {
      return { status: "failure", error: encodeError(err) };
    }
    const target = this.target;
    let value: unknown;
    try {
      if (target.isGenerator(wire.method)) {
        await inputStorage.run(ctx, () =>
          this.drain(wire, target.invoke(wire.method, args as unknown[]) as AsyncIterator<unknown>, ctx),
        );
        value = undefined;
      } else {
        value = await inputStorage.run(ctx, () => target.invoke(wire.method, args as unknown[]));
      }
    } catch (err) {
      return { status: "failure", error: encodeError(err) };
    }
    try {
      const bytes = encodePayload(value, "result");
      return {
        status: "success",
        data: inlinePayload(bytes) ?? (await toPayload(bytes, this.client)),
      };
    } catch (err) {
      return { status: "failure", error: encodeError(err) };
    }
  }
}
