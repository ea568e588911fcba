import {
  GENERATOR_WINDOW,
  type MapInputWire,
  type MapOutputWire,
  type Payload,
  type ResultWire,
  WEB_STREAM_WINDOW,
} from "@skiff/protocol";
import { EngineError } from "./engine-error.js";
import type { MapResume } from "./map-resume.js";
import type { LiveCall, LiveContainer, LiveFunction, LiveInput, MapState } from "./model.js";
import { resolveTarget } from "./targets.js";

/** Inputs one map may have outstanding (sent by the caller, no result yet). */
const MAP_WINDOW = 2048;

/** What streaming calls need from the engine that owns calls, inputs and queues. */
export interface FanOutHost {
  readonly calls: Map<string, LiveCall>;
  readonly inputs: Map<string, LiveInput>;
  readonly containers: Map<string, LiveContainer>;
  liveFunction(functionId: string): LiveFunction;
  newCall(fn: LiveFunction, parentInputId: string | undefined, extra: Partial<LiveCall>): LiveCall;
  /** `now`: when it is queued (defaults to the clock). */
  newInput(call: LiveCall, idx: number, args: Payload, now?: number): LiveInput;
  track(call: LiveCall): void;
  untrack(call: LiveCall): void;
  enqueue(input: LiveInput): void;
  /** Sends a new input straight to a container with a free slot, or queues it (engine.ts). */
  startInput(input: LiveInput): void;
  dispatch(fn: LiveFunction): void;
  /** Brings a function that is not in memory (an idle class instance) back, if it exists. */
  load(functionId: string): Promise<void>;
  /** Cancels a call (a detached map nobody took back). */
  cancel(callId: string): void;
}

/** What starts a generator call (gen.start, a web request). */
export interface StreamStart {
  functionId: string;
  args: Payload;
  /** Not used (a generator call is not deduplicated); a client's gen.start still sends one. */
  idempotencyKey?: string;
  parentInputId: string | undefined;
  method?: string | undefined;
}

/** Where a generator call's items go as they are yielded, then its end. */
export type StreamSink = (items: Payload[], end?: ResultWire) => void;

/** What starts a map (map.start). */
export interface MapStart {
  functionId: string;
  idempotencyKey: string;
  parentInputId: string | undefined;
  method?: string | undefined;
}

/** Where a map's results go as they finish (the connection holding it). */
export type MapSink = (items: MapOutputWire[]) => void;

/** Items in flight of a generator call: a web response's items are up to 64 KiB, so fewer. */
function windowOf(fn: LiveFunction): number {
  return fn.spec.web ? WEB_STREAM_WINDOW : GENERATOR_WINDOW;
}

/**
 * Calls whose results stream: maps (inputs in within a window, results out as they finish)
 * and generator calls (items out as they are yielded, acknowledged back to the container).
 */
export class FanOut {
  constructor(
    private readonly host: FanOutHost,
    /** The rows that let a restarted server take a map back. */
    readonly resume: MapResume,
  ) {}

  // ---- generators ------------------------------------------------------------------

  /**
   * Starts a generator call: items are forwarded to `sink` as the container yields them; the
   * caller's acknowledgements go back to the container, whose generator pauses while
   * GENERATOR_WINDOW items are unacknowledged. Nothing is buffered here.
   */
  startStream(p: StreamStart, sink: StreamSink): { callId: string; window: number } {
    const fn = this.host.liveFunction(p.functionId);
    const target = resolveTarget(fn, p.method);
    if (!target.isGenerator)
      throw new EngineError(
        "invalid_argument",
        `${fn.appName}.${target.name} is not a generator function: call remote()`,
      );
    const call = this.host.newCall(fn, p.parentInputId, {
      method: p.method,
      stream: { sink, yielded: 0, acked: 0, pausedSince: 0, pausedMs: 0 },
    });
    const input = this.host.newInput(call, 0, p.args);
    call.inputs.push(input);
    this.host.track(call);
    this.host.startInput(input);
    return { callId: call.id, window: windowOf(fn) };
  }

  /** The input of a running generator call (web calls: to check who may pull the request body). */
  streamInput(callId: string): LiveInput | undefined {
    const call = this.host.calls.get(callId);
    return call?.stream ? call.inputs[0] : undefined;
  }

  /** Items yielded by a container's generator. */
  containerGenItems(containerId: string, inputId: string, attempt: number, items: Payload[]): void {
    const input = this.host.inputs.get(inputId);
    const c = this.host.containers.get(containerId);
    if (!input?.call.stream || !c || input.container !== c || input.attempt !== attempt || input.status !== "running")
      return;
    this.streamItems(input, items);
  }

  /** Items of a generator input running as its current attempt (the caller checked). */
  streamItems(input: LiveInput, items: Payload[]): void {
    const st = input.call.stream;
    if (!st) return;
    st.yielded += items.length;
    if (!st.pausedSince && st.yielded - st.acked >= windowOf(input.call.fn)) st.pausedSince = Date.now();
    st.sink(items);
  }

  /** The caller took `consumed` more items: let the container's generator go on. */
  streamAck(callId: string, consumed: number): void {
    const call = this.host.calls.get(callId);
    const st = call?.stream;
    const input = st ? call.inputs[0] : undefined;
    if (!st || !input) return;
    st.acked += consumed;
    if (st.pausedSince && st.yielded - st.acked < windowOf(call.fn)) {
      st.pausedMs += Date.now() - st.pausedSince;
      st.pausedSince = 0;
    }
    if (input.status === "running") input.container?.channel?.send("gen.ack", { inputId: input.id, consumed });
  }

  // ---- fan-out (map) ---------------------------------------------------------------

  /**
   * Starts a map: the caller streams inputs in (at most `window` outstanding) and gets
   * results through `sink` as they finish. A map's inputs live with its caller, which holds
   * them until their results arrive; they are not written to the store. Only a row naming the
   * map is (see map-resume.ts): the caller awaits `durable` before it may rely on resuming.
   */
  startMap(p: MapStart, sink: MapSink, onDone: () => void): { callId: string; window: number } {
    const fn = this.host.liveFunction(p.functionId);
    const target = resolveTarget(fn, p.method);
    if (target.isGenerator)
      throw new EngineError(
        "invalid_argument",
        `${fn.appName}.${target.name} is a generator: map it as a flat map of streams`,
      );
    const call = this.newMapCall(fn, undefined, p.parentInputId, p.method, sink, onDone);
    this.resume.started(call, p.idempotencyKey);
    return { callId: call.id, window: MAP_WINDOW };
  }

  private newMapCall(
    fn: LiveFunction,
    id: string | undefined,
    parentInputId: string | undefined,
    method: string | undefined,
    sink: (items: MapOutputWire[]) => void,
    onDone: () => void,
  ): LiveCall & { map: MapState } {
    const call = this.host.newCall(fn, parentInputId, {
      ...(id ? { id } : {}),
      method,
      map: {
        live: new Map(),
        window: MAP_WINDOW,
        done: 0,
        failed: 0,
        total: undefined,
        out: [],
        flushScheduled: false,
        sink,
        onDone,
        detached: undefined,
      },
    });
    this.host.track(call);
    return call as LiveCall & { map: MapState };
  }

  /**
   * The connection holding a map (the one whose sink is `holder`) closed: the map keeps running for MAP_RESUME_MS, its results
   * kept for map.resume (bounded by its window), and is cancelled if nobody takes it back.
   */
  detachMap(callId: string, holder: (items: MapOutputWire[]) => void): void {
    const call = this.host.calls.get(callId);
    const m = call?.map;
    // Not when another connection took it back meanwhile.
    if (!m || m.detached || m.sink !== holder) return;
    m.sink = () => {};
    m.onDone = () => {};
    m.detached = setTimeout(() => this.host.cancel(callId), this.resume.windowMs);
    m.detached.unref();
  }

  /**
   * Takes a map back on a new connection (map.resume): a map still here gets its new sink and
   * the results kept while it waited; a map this server only knows from the store (it restarted)
   * starts again empty, and its caller sends again every input it has no result for.
   */
  async resumeMap(
    callId: string,
    sink: (items: MapOutputWire[]) => void,
    onDone: () => void,
  ): Promise<{ callId: string; window: number }> {
    const attach = (call: LiveCall & { map: MapState }) => {
      const m = call.map;
      if (m.detached) clearTimeout(m.detached);
      m.detached = undefined;
      m.sink = sink;
      m.onDone = onDone;
      // Not over until the caller ends it again: first it sends again what it has no result for
      // (results lost with the old connection run again).
      m.total = undefined;
      // Results kept while detached go out before the reply: the caller then knows not to resend them.
      const items = m.out;
      m.out = [];
      if (items.length > 0) sink(items);
      return { callId, window: m.window };
    };
    const live = this.host.calls.get(callId);
    if (live?.map) return attach(live as LiveCall & { map: MapState });
    const row = await this.resume.find(callId);
    await this.host.load(row.functionId);
    const again = this.host.calls.get(callId); // taken back meanwhile (two resumes racing)
    if (again?.map) return attach(again as LiveCall & { map: MapState });
    const fn = this.host.liveFunction(row.functionId);
    const call = this.newMapCall(fn, callId, row.parentInputId ?? undefined, row.method ?? undefined, sink, onDone);
    this.resume.takenBack(callId);
    return { callId, window: call.map.window };
  }

  private mapCall(callId: string): LiveCall & { map: MapState } {
    const call = this.host.calls.get(callId);
    if (!call?.map) throw new EngineError("not_found", `no running map ${callId}`);
    return call as LiveCall & { map: MapState };
  }

  /**
   * Adds inputs. An index the map already has (a resend after map.resume: the input is still
   * queued or running here) is skipped; any other runs, again if its result was lost.
   */
  putMapInputs(callId: string, items: MapInputWire[]): void {
    this.putMapInputColumns(
      callId,
      items.map((it) => it.idx),
      items.map((it) => it.args),
    );
  }

  /** The same as putMapInputs, as columns: input i is `idxs[i]` with `args[i]`. */
  putMapInputColumns(callId: string, idxs: number[], args: Payload[]): void {
    const call = this.mapCall(callId);
    const m = call.map;
    let fresh = 0;
    for (const idx of idxs) {
      if (m.total !== undefined && idx >= m.total)
        throw new EngineError("failed_precondition", `map ${callId} has already ended (after ${m.total} inputs)`);
      if (!m.live.has(idx)) fresh++;
    }
    if (m.live.size + fresh > m.window) {
      throw new EngineError(
        "failed_precondition",
        `map ${callId}: more than ${m.window} inputs outstanding (the window the server set)`,
      );
    }
    if (!call.fn.live) throw new EngineError("not_found", `function ${call.fn.name} is not running`);
    const now = Date.now();
    for (let i = 0; i < idxs.length; i++) {
      const idx = idxs[i]!;
      if (m.live.has(idx)) continue; // still here (a resend), or the same index twice in one batch
      const input = this.host.newInput(call, idx, args[i]!, now);
      m.live.set(idx, input);
      input.status = "pending";
      call.fn.queue.push(input);
    }
    this.host.dispatch(call.fn);
  }

  endMap(callId: string, total: number): void {
    const call = this.mapCall(callId);
    call.map.total = total;
    this.maybeFinishMap(call, call.map);
  }

  mapResult(call: LiveCall, m: MapState, input: LiveInput, result: ResultWire): void {
    if (m.live.get(input.idx) === input) m.live.delete(input.idx);
    m.done++;
    if (result.status !== "success") m.failed++;
    m.out.push({ idx: input.idx, result });
    if (!m.flushScheduled && !m.detached) {
      m.flushScheduled = true;
      setImmediate(() => {
        m.flushScheduled = false;
        if (m.detached) return; // kept for map.resume
        const items = m.out;
        m.out = [];
        if (items.length > 0) m.sink(items);
      });
    }
    this.maybeFinishMap(call, m);
  }

  /**
   * Over once the caller has ended it and nothing is outstanding here. Not while detached: its
   * last results wait for map.resume. (A resumed map's inputs ran partly on an earlier server,
   * so `done` is not compared with `total`.)
   */
  private maybeFinishMap(call: LiveCall, m: MapState): void {
    if (m.total !== undefined && m.live.size === 0 && !m.detached) this.host.untrack(call);
  }
}
