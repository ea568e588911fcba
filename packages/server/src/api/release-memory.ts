import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Asks V8 for a full collection soon (2.5 s: after the cut socket is gone) after a connection that held many bytes is cut off.
 * What such a connection held (up to its queued-bytes cap) is garbage once it closes, but an
 * idle server allocates nothing more, so V8 would keep it — and the process's memory — until
 * some later traffic; a hostile client could leave the server holding its cap that way.
 * At most one collection per interval, so a stream of cut-offs cannot make GC a cost of its own.
 */
const MIN_INTERVAL_MS = 10_000;
let collect: (() => void) | undefined;
let scheduled: NodeJS.Timeout | undefined;
let last = 0;

export function releaseMemorySoon(): void {
  if (scheduled) return;
  const wait = Math.max(2500, last + MIN_INTERVAL_MS - Date.now());
  scheduled = setTimeout(() => {
    scheduled = undefined;
    last = Date.now();
    gcFunction()();
  }, wait);
  scheduled.unref();
}

function gcFunction(): () => void {
  if (!collect) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) collect = exposed;
    else {
      // The flag exposes `gc` to contexts created after it is set (this one only).
      setFlagsFromString("--expose-gc");
      collect = runInNewContext("gc") as () => void;
    }
  }
  return collect;
}
