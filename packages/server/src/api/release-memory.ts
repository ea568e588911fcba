import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Asks V8 for full collections soon after a connection that held many bytes is closed.
 * What such a connection held (up to its queued-bytes cap) is garbage once it closes, but an
 * idle server allocates nothing more, so V8 would keep it — and the process's memory — until
 * some later traffic; a hostile client could leave the server holding its cap that way.
 * Two passes (work still in flight for it when the first runs — a blob part being read — is
 * done by the second); at most one series per interval, so a stream of cut-offs cannot make
 * GC a cost of its own.
 */
const PASSES_MS = [1000, 5000];
const MIN_INTERVAL_MS = 10_000;
let collect: (() => void) | undefined;
let until = 0;

export function releaseMemorySoon(): void {
  const now = Date.now();
  if (now < until) return;
  until = now + MIN_INTERVAL_MS;
  for (const ms of PASSES_MS) setTimeout(() => gcFunction()(), ms).unref();
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
