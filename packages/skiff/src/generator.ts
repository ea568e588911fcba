import { type EventMap, newId, type Payload, type ResultWire } from "@skiff/protocol";
import type { CallTarget } from "./call-target.js";
import type { Client } from "./client.js";
import { currentInputId } from "./context.js";
import { SkiffError } from "./errors.js";
import { fromPayload, toPayload, unwrapResult } from "./payloads.js";
import { Wakeup } from "./transport/wakeup.js";

/**
 * Streams a generator call: yields items as the container yields them. Items are acknowledged
 * as they are consumed, and the container's generator pauses while a window of them is
 * unacknowledged, so a slow consumer slows the generator and memory stays bounded on every
 * side. An error thrown mid-stream arrives after the items yielded before it.
 */
export async function* runGenerator(
  client: Client,
  target: CallTarget,
  what: string,
  args: Uint8Array,
): AsyncGenerator<unknown> {
  const parentInputId = currentInputId();
  const wire = await toPayload(args, client);
  const start = async () =>
    (
      await client.request(
        "gen.start",
        {
          ...target,
          args: wire,
          idempotencyKey: newId("ik"),
          ...(parentInputId ? { parentInputId } : {}),
        },
        { retryable: true },
      )
    ).callId;
  // Retryable: a server stopping gracefully leaves it unanswered for the next one (a stream
  // started twice after a crash: the first is cancelled with its connection).
  let callId = await start();
  const conn = client._connection;
  const release = conn.hold();
  const queue: Payload[] = [];
  let end: ResultWire | undefined;
  let dropped: Error | undefined;
  let delivered = 0;
  const wakeup = new Wakeup();
  const sink = (ev: EventMap["gen.stream"]) => {
    for (const it of ev.items) queue.push(it);
    if (ev.end) end = ev.end;
    wakeup.poke();
  };
  let stopSink = client._onGenStream(callId, sink);
  const stopDrop = conn.onDisconnect((err) => {
    dropped ??= err;
    wakeup.poke();
  });
  let finished = false;
  try {
    for (;;) {
      if (queue.length > 0) {
        const items = queue.splice(0);
        for (const item of items) {
          yield await fromPayload(item, client);
          delivered++;
        }
        conn.emit("gen.ack", { callId, consumed: items.length });
        continue;
      }
      if (end) {
        finished = true;
        await unwrapResult(end, client, what); // throws the generator's error, if any
        return;
      }
      if (dropped) {
        const err = dropped;
        dropped = undefined;
        // The server cancels a stream whose connection closed (or it restarted and lost it).
        if (delivered > 0)
          throw new SkiffError(
            `${what}: the stream was interrupted after ${delivered} item${delivered === 1 ? "" : "s"}: the connection to the server was lost (${err.message}). A generator is not run again once it has yielded; call it again to start over`,
            { cause: err },
          );
        // Nothing came yet: it simply runs again, once the connection is back.
        stopSink();
        try {
          callId = await start();
        } catch (e) {
          throw new SkiffError(
            `${what}: the connection to the server was lost before the stream yielded anything, and the call could not be started again: ${(e as Error).message}`,
            { cause: e },
          );
        }
        stopSink = client._onGenStream(callId, sink);
        continue;
      }
      await wakeup.wait();
    }
  } finally {
    stopSink();
    stopDrop();
    release();
    if (!finished) void client.request("call.cancel", { callId, terminateContainers: false }).catch(() => {});
  }
}
