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
  const { callId } = await client.request("gen.start", {
    ...target,
    args: await toPayload(args, client),
    idempotencyKey: newId("ik"),
    ...(parentInputId ? { parentInputId } : {}),
  });
  const conn = client._connection;
  const release = conn.hold();
  const queue: Payload[] = [];
  let end: ResultWire | undefined;
  let failure: Error | undefined;
  const wakeup = new Wakeup();
  const stopSink = client._onGenStream(callId, (ev: EventMap["gen.stream"]) => {
    for (const it of ev.items) queue.push(it);
    if (ev.end) end = ev.end;
    wakeup.poke();
  });
  const stopDrop = conn.onDisconnect((err) => {
    failure ??= new SkiffError(`${what}: the connection to the server was lost during the stream (${err.message})`, {
      cause: err,
    });
    wakeup.poke();
  });
  let finished = false;
  try {
    for (;;) {
      if (queue.length > 0) {
        const items = queue.splice(0);
        for (const item of items) yield await fromPayload(item, client);
        conn.emit("gen.ack", { callId, consumed: items.length });
        continue;
      }
      if (end) {
        finished = true;
        await unwrapResult(end, client, what); // throws the generator's error, if any
        return;
      }
      if (failure) throw failure;
      await wakeup.wait();
    }
  } finally {
    stopSink();
    stopDrop();
    release();
    if (!finished) void client.request("call.cancel", { callId, terminateContainers: false }).catch(() => {});
  }
}
