import { accessSync, constants, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A temporary directory named after this process (`<prefix>-<pid>-XXXXXX`), after removing
 * those of processes that are gone: a server killed with SIGKILL cannot remove its own, and
 * without the sweep every such kill would leave one behind in /tmp for good.
 *
 * In memory (/dev/shm) where there is one and TMPDIR does not say otherwise: these are small
 * (the runtime's ~350 kB, a pid file, an empty file) and made and removed at each server's
 * start and stop, each `skiff run`'s. On a disk, creating and removing the runtime's dozen
 * files took 15-45 ms each way on a busy host (journal writes); in memory, about 1 ms.
 */
export function processTempDir(prefix: string): string {
  const base = smallTempBase();
  for (const dir of new Set([base, tmpdir()])) sweep(prefix, dir);
  return mkdtempSync(join(base, `${prefix}-${process.pid}-`));
}

/** Removes `<prefix>-<pid>-*` in `dir` of processes that are gone. */
function sweep(prefix: string, dir: string): void {
  const re = new RegExp(`^${prefix}-(\\d+)-`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = re.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}

let base: string | undefined;

/** /dev/shm when it is a writable directory and TMPDIR is not set; else the OS's temp dir. */
export function smallTempBase(): string {
  if (base !== undefined) return base;
  base = tmpdir();
  if (process.env.TMPDIR) return base;
  try {
    if (statSync("/dev/shm").isDirectory()) {
      accessSync("/dev/shm", constants.W_OK | constants.X_OK);
      base = "/dev/shm";
    }
  } catch {}
  return base;
}

/** Whether a process with this pid exists (EPERM: it does, as another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
