import { readFileSync } from "node:fs";

/**
 * The pid in a pid file (pasta's `--pid`), or undefined when the file is missing, empty or not
 * a process's pid. An empty file is what a pasta leaves that failed after opening it (its
 * namespace removed while it started, the server stopping): `Number("")` is 0, and signalling
 * pid 0 signals the caller's whole process group — the server and whatever started it (a test
 * runner, a shell). So only a plain integer above 1 is a pid here.
 */
export function readPidFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const pid = Number(text);
  return pid > 1 ? pid : undefined;
}

/**
 * Sends `signal` to one process, if it is one: never to pid 1 or below (0 and negatives signal
 * process groups, our own among them), and a process already gone is no error.
 */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, signal);
  } catch {}
}
