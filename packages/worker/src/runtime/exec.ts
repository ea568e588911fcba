import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EventMap, type EventName, EXEC_WINDOW_BYTES } from "@skiff/protocol";

/**
 * Commands run inside this container for `skiff container exec` and `skiff shell`. They run
 * with the container's own environment (the function's env and secrets), in its sandbox.
 *
 * A terminal (`tty`) is a real pseudo-terminal: util-linux's `script` allocates it (Node has no
 * pty of its own, and a native module would need a build), so the shell gets line editing and
 * job control, and Ctrl-C reaches it as a byte the terminal turns into SIGINT. A resize runs
 * `stty -F <pty> rows R cols C`, which signals SIGWINCH to the terminal's foreground job.
 *
 * Output is sent with credit: at most EXEC_WINDOW_BYTES unacknowledged, then the command's
 * pipes are paused until the caller acknowledges (a slow terminal slows the command, nothing
 * piles up). Input is acknowledged once written to the command.
 */

/**
 * node:child_process, loaded at a container's first command: most containers never run one, and
 * loading it (with dgram and the socket list it brings) is ~1 ms of CPU of every container start.
 */
let childProcess: typeof import("node:child_process") | undefined;
const processes = () => {
  childProcess ??= createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  return childProcess;
};

type Send = <N extends EventName>(name: N, body: EventMap[N]) => void;

interface Running {
  child: ChildProcess;
  unacked: number;
  paused: boolean;
  /** For a terminal: the file `script` wrote the pty's path into, and the path once read. */
  ttyFile: string | undefined;
  tty: string | undefined;
}

/** Most commands one container runs at once. */
const MAX_EXECS = 16;

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const dim = (n: number | undefined, fallback: number) =>
  Number.isInteger(n) && (n as number) > 0 && (n as number) < 10_000 ? (n as number) : fallback;

export class ExecHost {
  private readonly running = new Map<string, Running>();

  constructor(private readonly send: Send) {}

  start(m: EventMap["exec.start"]): void {
    const { execId } = m;
    if (this.running.has(execId)) return;
    if (this.running.size >= MAX_EXECS) {
      this.send("exec.exit", { execId, code: null, error: `this container already runs ${MAX_EXECS} commands` });
      return;
    }
    if (!Array.isArray(m.argv) || m.argv.length === 0 || m.argv.some((a) => typeof a !== "string")) {
      this.send("exec.exit", { execId, code: null, error: "exec needs a command" });
      return;
    }
    const env: NodeJS.ProcessEnv = { ...process.env, ...(m.term ? { TERM: m.term } : {}) };
    let child: ChildProcess;
    let ttyFile: string | undefined;
    if (m.tty) {
      ttyFile = join(tmpdir(), `.skiff-exec-${execId.replace(/[^A-Za-z0-9_-]/g, "")}.tty`);
      const rows = dim(m.rows, 24);
      const cols = dim(m.cols, 80);
      const line = `tty > ${quote(ttyFile)}; stty rows ${rows} cols ${cols}; exec ${m.argv.map(quote).join(" ")}`;
      // -q quiet, -f flush at once, -e the command's exit status; the typescript goes nowhere.
      child = processes().spawn("script", ["-qfec", line, "/dev/null"], {
        env: { ...env, SHELL: "/bin/sh" },
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
      });
    } else {
      child = processes().spawn(m.argv[0]!, m.argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    }
    const r: Running = { child, unacked: 0, paused: false, ttyFile, tty: undefined };
    this.running.set(execId, r);
    const out = (stream: "stdout" | "stderr") => (data: Buffer) => {
      this.send("exec.output", { execId, stream, data: new Uint8Array(data) });
      r.unacked += data.byteLength;
      if (r.unacked >= EXEC_WINDOW_BYTES && !r.paused) {
        r.paused = true;
        child.stdout?.pause();
        child.stderr?.pause();
      }
    };
    child.stdout!.on("data", out("stdout"));
    child.stderr!.on("data", out("stderr"));
    child.stdin!.on("error", () => {}); // the command may exit without reading its input
    let errored: string | undefined;
    child.on("error", (err) => {
      errored = `cannot run ${JSON.stringify(m.argv[0])}: ${err.message}`;
    });
    child.on("close", (code, signal) => {
      this.running.delete(execId);
      if (ttyFile) rmSync(ttyFile, { force: true });
      this.send("exec.exit", {
        execId,
        code: errored ? null : code,
        ...(signal ? { signal } : {}),
        ...(errored ? { error: errored } : {}),
      });
    });
  }

  input(m: EventMap["exec.input"]): void {
    const r = this.running.get(m.execId);
    if (!r) return;
    const stdin = r.child.stdin!;
    if (m.data && m.data.byteLength > 0) {
      const n = m.data.byteLength;
      stdin.write(m.data, () => this.send("exec.ack", { execId: m.execId, bytes: n }));
    }
    if (m.eof) stdin.end();
  }

  ack(m: EventMap["exec.ack"]): void {
    const r = this.running.get(m.execId);
    if (!r || !(m.bytes > 0)) return;
    r.unacked = Math.max(0, r.unacked - m.bytes);
    if (r.paused && r.unacked < EXEC_WINDOW_BYTES) {
      r.paused = false;
      r.child.stdout?.resume();
      r.child.stderr?.resume();
    }
  }

  resize(m: EventMap["exec.resize"]): void {
    const r = this.running.get(m.execId);
    if (!r?.ttyFile) return;
    if (!r.tty && existsSync(r.ttyFile)) r.tty = readFileSync(r.ttyFile, "utf8").trim();
    if (!r.tty?.startsWith("/dev/")) return;
    processes().execFile(
      "stty",
      ["-F", r.tty, "rows", String(dim(m.rows, 24)), "cols", String(dim(m.cols, 80))],
      () => {},
    );
  }

  kill(execId: string): void {
    const r = this.running.get(execId);
    if (!r?.child.pid) return;
    try {
      process.kill(-r.child.pid, "SIGKILL"); // its whole process group
    } catch {
      r.child.kill("SIGKILL");
    }
  }

  killAll(): void {
    for (const id of this.running.keys()) this.kill(id);
  }
}
