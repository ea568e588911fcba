import { type OutputWire, type Payload, packPayloads } from "@skiff/protocol";
import type { Connection } from "skiff/internal";

/**
 * How the runtime reports outputs: those finished in one turn leave as one message (fewer
 * envelopes to encode and route), in that turn's frame (shaped as the connection puts the frame
 * together, after what was emitted earlier in the turn: a generator's items before the output
 * that ends it), not in a turn of their own before it. Successes go as columns (no object per
 * output to encode), anything else as it is. Held until the frame leaves: bounded by the
 * inputs the container holds.
 */
export function outputReporter(conn: Connection): (out: OutputWire) => void {
  let finished: OutputWire[] = [];
  conn.beforeFlush(() => {
    if (finished.length === 0) return;
    const items = finished;
    finished = [];
    const seqs: number[] = [];
    const data: Payload[] = [];
    const durationsMs: number[] = [];
    const rest: OutputWire[] = [];
    for (const o of items) {
      if (o.result.status === "success" && o.seq !== undefined) {
        seqs.push(o.seq);
        data.push(o.result.data);
        durationsMs.push(o.durationMs);
      } else rest.push(o);
    }
    if (seqs.length > 0) conn.emit("outputs.cols", { seqs, data: packPayloads(data), durationsMs });
    if (rest.length > 0) conn.emit("outputs", { items: rest });
  });
  return (out) => {
    finished.push(out);
    conn.flushSoon();
  };
}
