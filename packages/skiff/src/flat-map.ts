import type { CallTarget } from "./call-target.js";
import type { Client } from "./client.js";
import { SkiffError, UserCodeError } from "./errors.js";
import { runGenerator } from "./generator.js";
import type { ArgSource, MapParams } from "./map.js";
import { encodeForWire } from "./payloads.js";

/** A stream that fails at once: an input that could not be sent. */
async function* failedStream(err: unknown): AsyncGenerator<unknown> {
  yield* [];
  throw err;
}

/** Generator calls of one flat map running at once. */
const STREAMS = 16;

interface Stream {
  it: AsyncGenerator<unknown>;
  /** The pending next() of this stream, started early so that streams run in parallel. */
  next: Promise<IteratorResult<unknown>> | undefined;
}

/**
 * `map` over a generator function is a flat map: every input runs as its own generator call
 * (up to STREAMS at once) and their items are yielded input by input (or as they come, with
 * `orderOutputs: false`). Each stream holds at most one window of items while it waits its
 * turn, and its generator pauses: memory stays bounded.
 */
export async function* runFlatMap(
  client: Client,
  target: CallTarget,
  what: string,
  argLists: ArgSource,
  params: MapParams,
): AsyncGenerator<unknown> {
  const ordered = params.orderOutputs ?? true;
  const streams: Stream[] = [];
  let exhausted = false;
  let idx = 0;
  const start = async (): Promise<boolean> => {
    if (exhausted) return false;
    const step = await argLists.next();
    if (step.done) {
      exhausted = true;
      return false;
    }
    let it: AsyncGenerator<unknown>;
    try {
      it = runGenerator(client, target, what, encodeForWire(step.value, `map input ${idx}: args`));
    } catch (err) {
      it = failedStream(err);
    }
    idx++;
    const s: Stream = { it, next: undefined };
    s.next = it.next(); // starts the call now
    s.next.catch(() => {}); // observed when its turn comes
    streams.push(s);
    return true;
  };
  const fail = (err: unknown) => {
    if (!params.returnExceptions) throw err;
    return err instanceof Error && !(err instanceof SkiffError) ? new UserCodeError(err) : err;
  };
  try {
    while (streams.length < STREAMS && (await start())) {}
    while (streams.length > 0) {
      // Ordered: drain the oldest stream; unordered: whichever yields first.
      let s: Stream;
      let r: IteratorResult<unknown> | { error: unknown };
      if (ordered) {
        s = streams[0]!;
        r = await s.next!.then(
          (v) => v,
          (error: unknown) => ({ error }),
        );
      } else {
        const raced = await Promise.race(
          streams.map((x) =>
            x.next!.then(
              (v) => ({ x, r: v as IteratorResult<unknown> | { error: unknown } }),
              (error: unknown) => ({ x, r: { error } as IteratorResult<unknown> | { error: unknown } }),
            ),
          ),
        );
        s = raced.x;
        r = raced.r;
      }
      if ("error" in r || r.done) {
        streams.splice(streams.indexOf(s), 1);
        if ("error" in r) yield fail(r.error);
        await start();
        continue;
      }
      s.next = s.it.next();
      s.next.catch(() => {});
      yield r.value;
    }
  } finally {
    for (const s of streams) void s.it.return(undefined).catch(() => {});
    await argLists.return?.(undefined);
  }
}
