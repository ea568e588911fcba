import { execFileSync } from "node:child_process";
import { createServer } from "node:net";

/** Pids of processes whose command line contains `needle` (containers of one server). */
export function pidsMatching(needle: string): number[] {
  try {
    const out = execFileSync("pgrep", ["-f", needle], { encoding: "utf8" });
    return out
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

/** Container processes (the sandbox or plain runtime) started by the server using `dataDir`. */
export function containerPids(dataDir: string): number[] {
  // bwrap's command line names the control socket in the data dir; without bwrap, the
  // runtime is a plain process whose env (not argv) has it, so fall back to the runtime path.
  const viaBwrap = pidsMatching(`bwrap.*${dataDir}`);
  return viaBwrap.length > 0 ? viaBwrap : [];
}

export function killPids(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}
