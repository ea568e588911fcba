// SKIFF_TRACE=1: one line on stderr per phase of a command (`skiff run`'s way to its first
// result and out), stamped with the wall clock in ms, so one process's phases and another's
// (a container's runtime gets no such variable) line up. Off, it costs one boolean test.
// The SDK's bundles carry this module too: a runtime that gates reading the environment (Deno
// without --allow-env) throws on the read, so that means off, not a client that fails to load.
const on = ((): boolean => {
  try {
    return typeof process !== "undefined" && process.env?.SKIFF_TRACE === "1";
  } catch {
    return false;
  }
})();

/** Writes `label` with the time, when SKIFF_TRACE=1. */
export function trace(label: string): void {
  if (on) process.stderr.write(`[trace ${(performance.timeOrigin + performance.now()).toFixed(1)}] ${label}\n`);
}
