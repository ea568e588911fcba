import { type ChildProcess, execFile, fork } from "node:child_process";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { HelperChild } from "./helper-child.js";
import { signalPid } from "./pid-file.js";

const direct = promisify(execFile);
const HELPER = fileURLToPath(new URL("./spawner-main.js", import.meta.url));
/** Helper exits (crashes) after which commands are run by forking the server again, as before. */
const MAX_HELPER_FAILURES = 3;

export interface SpawnerRequest {
  id: number;
  file: string;
  args: string[];
  input?: string;
}

export interface SpawnerReply {
  id: number;
  ok: boolean;
  stdout: string;
  stderr: string;
  error?: string;
  code?: number | string | null;
  signal?: string | null;
}

/** Start a container's process: `fds` pipes (3, or 4 with bubblewrap's info fd). */
export interface SpawnRequest {
  spawn: number;
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  fds: number;
}

/** What the helper says of a process it started: its pid, one of its pipes (sent as the handle), its end. */
export type HelperEvent =
  | { spawned: number; pid: number }
  | { spawned: number; fd: number }
  | { spawned: number; code: number | null; signal: NodeJS.Signals | null }
  | { spawned: number; error: string };

interface Pending {
  resolve: (r: { stdout: string; stderr: string }) => void;
  reject: (err: Error) => void;
}

/**
 * Runs the provider's short commands (a network namespace's NAT script, the batched removal of
 * ended ones), and starts its containers' processes (`spawn`), in a small helper process
 * (spawner-main.ts), so the server does not fork itself for them. A fork copies the forking process's page tables and marks its memory copy-on-write,
 * and Node's spawn blocks its thread until the child has exec'd: on a 2-core machine starting
 * dozens of containers, the server's main thread spent a third of a cold fan-out inside
 * ChildProcess.spawn, two thirds of that for these scripts (bench/RESULTS.md). The helper is a
 * bare Node process that forks instead, and replies over its IPC channel; it exits when the
 * channel closes, i.e. with the server, however the server ends.
 *
 * Commands run from the server as before until the helper has started and said it is ready,
 * and for good if it keeps failing: the helper never delays one. It is started off a cold
 * start's path (`start`, by the network's spares): booting it beside a `skiff run`'s only
 * container would cost that container more than the forks it saves.
 */
export class CommandHelper {
  private child: ChildProcess | undefined;
  private ready = false;
  private seq = 0;
  private failures = 0;
  private closed = false;
  private readonly pending = new Map<number, Pending>();
  /** Processes it started for this server that have not exited (as many as the containers). */
  private readonly spawned = new Map<number, HelperChild>();

  /** The helper's pid while it runs (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether commands go to the helper now (started and ready). */
  get usingHelper(): boolean {
    return this.ready && this.child?.connected === true;
  }

  /** Runs `file args` with `input` on its stdin; rejects as execFile does when it fails. */
  run(file: string, args: string[], input = ""): Promise<{ stdout: string; stderr: string }> {
    const child = this.child;
    if (!this.ready || !child?.connected) {
      const p = direct(file, args, { encoding: "utf8" });
      p.child.stdin?.on("error", () => {});
      p.child.stdin?.end(input);
      return p;
    }
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.refChanged();
      child.send({ id, file, args, input } satisfies SpawnerRequest);
    });
  }

  /**
   * Starts a process in the helper, whose stdio pipes it hands to this one: the server does not
   * fork itself (a fork of a server of a few hundred MiB costs it 5-15 ms of CPU and holds its
   * event loop 10-35 ms, per container start). Undefined while the helper is not ready: the
   * caller spawns the process itself then, as before.
   */
  spawn(
    file: string,
    args: string[],
    o: { env: Record<string, string>; cwd: string; fds: number },
  ): HelperChild | undefined {
    const helper = this.child;
    if (!this.ready || !helper?.connected) return undefined;
    const id = ++this.seq;
    const child = new HelperChild(o.fds, (signal) => {
      if (helper.connected) helper.send({ kill: id, signal });
    });
    this.spawned.set(id, child);
    this.refChanged();
    helper.send({ spawn: id, file, args, env: o.env, cwd: o.cwd, fds: o.fds } satisfies SpawnRequest);
    return child;
  }

  /** Ends the helper (it exits once its channel closes); later commands run from the server. */
  close(): void {
    this.closed = true;
    if (this.child?.connected) this.child.disconnect();
  }

  /** Starts the helper if it is not running (commands go to it once it is ready). */
  start(): void {
    if (this.child?.connected || this.closed || this.failures >= MAX_HELPER_FAILURES) return;
    const child = fork(HELPER, [], {
      // None of the server's node flags (a --cpu-prof of the server's own, --inspect).
      execArgv: [],
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      serialization: "json",
    });
    this.child = child;
    child.unref();
    child.channel?.unref();
    child.on("message", (m: SpawnerReply | HelperEvent | { ready: true }, handle?: Socket) => {
      if ("ready" in m) {
        this.ready = true;
        return;
      }
      if ("spawned" in m) return this.onSpawned(m, handle);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.settled(m.id);
      if (m.ok) p.resolve({ stdout: m.stdout, stderr: m.stderr });
      else
        p.reject(
          Object.assign(new Error(m.error ?? "command failed"), {
            code: m.code,
            signal: m.signal,
            stdout: m.stdout,
            stderr: m.stderr,
          }),
        );
    });
    child.on("error", () => {}); // reported by exit
    // Its channel closes as it dies (before its exit is seen, if at all while nothing else keeps
    // this event loop going): what was sent to it is failed then. What it ran may have half
    // happened: the callers' error paths clean up, as for a command that failed.
    child.on("disconnect", () => {
      this.ready = false;
      if (!this.closed) this.failures++;
      const lost = [...this.pending.values()];
      this.pending.clear();
      child.unref();
      for (const p of lost) p.reject(new Error("the command helper exited before the command ended"));
      // Its containers die with it (bubblewrap's --die-with-parent); a plain process (no
      // sandbox) is killed here, so none outlives what the server knows of it.
      const orphans = [...this.spawned.values()];
      this.spawned.clear();
      for (const c of orphans) {
        if (c.pid !== undefined) signalPid(c.pid, "SIGKILL");
        c.gotExit(null, "SIGKILL");
      }
    });
    child.on("exit", () => {
      if (this.child === child) this.child = undefined;
    });
  }

  private onSpawned(m: HelperEvent, handle: Socket | undefined): void {
    const c = this.spawned.get(m.spawned);
    if (!c) return void handle?.destroy();
    if ("pid" in m) c.gotPid(m.pid);
    else if ("fd" in m) {
      if (handle) c.gotPipe(m.fd, handle);
    } else {
      this.spawned.delete(m.spawned);
      this.refChanged();
      if ("error" in m) c.gotExit(null, null, new Error(m.error));
      else c.gotExit(m.code, m.signal);
    }
  }

  private settled(id: number): void {
    this.pending.delete(id);
    this.refChanged();
  }

  /**
   * Referenced only while a command or a process it started is out: an idle helper does not
   * keep the server's event loop (a `skiff run`'s embedded server) from ending.
   */
  private refChanged(): void {
    const busy = this.pending.size + this.spawned.size > 0;
    if (busy) {
      this.child?.ref();
      this.child?.channel?.ref();
    } else {
      this.child?.unref();
      this.child?.channel?.unref();
    }
  }
}
