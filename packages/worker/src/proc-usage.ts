import { readFileSync } from "node:fs";

/** Linux reports CPU time in clock ticks (USER_HZ, 100 on every common build) and RSS in pages. */
const TICK_MS = 10;
const PAGE_BYTES = 4096;
/** Processes read per container at most: a fork bomb must not make the dashboard slow. */
const MAX_PROCS = 64;

/**
 * CPU time and resident memory of a process and its descendants, from /proc (children lists
 * need CONFIG_PROC_CHILDREN, present in Debian's kernels). Undefined off Linux or once the
 * process is gone.
 */
export function processTreeUsage(rootPid: number | undefined): { cpuMs: number; memoryBytes: number } | undefined {
  if (rootPid === undefined || process.platform !== "linux") return undefined;
  let cpuMs = 0;
  let memoryBytes = 0;
  const todo = [rootPid];
  let seen = 0;
  while (todo.length > 0 && seen < MAX_PROCS) {
    const pid = todo.pop()!;
    seen++;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command name (which may hold spaces), which ends at the last ")".
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpuMs += (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime
      memoryBytes += Number(f[21]) * PAGE_BYTES; // rss
      for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" "))
        if (c.trim()) todo.push(Number(c));
    } catch {
      if (pid === rootPid) return undefined;
    }
  }
  return { cpuMs, memoryBytes };
}
