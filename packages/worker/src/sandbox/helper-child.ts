import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { PassThrough, type Readable, type Writable } from "node:stream";

/**
 * A container's process as the provider uses it: a ChildProcess the server spawned, or one the
 * command helper started for it (HelperChild). Its stdio are pipes (stdin, stdout, stderr and,
 * for a container whose network is attached after it starts, bubblewrap's info fd).
 */
export interface RuntimeChild {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly stdio: readonly (Readable | Writable | null | undefined)[];
  kill(signal?: NodeJS.Signals): boolean;
  on(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  once(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

/**
 * A process the command helper started for the server (spawner.ts). Usable at once, like a
 * ChildProcess: what is written to its stdin before the helper has handed over the real pipe
 * waits in a stream here, and its output streams carry the real pipes' data once they come.
 */
export class HelperChild extends EventEmitter implements RuntimeChild {
  pid: number | undefined;
  exitCode: number | null = null;
  private ended = false;
  /** The fds whose real pipe has come. */
  private readonly came = new Set<number>();
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdio: PassThrough[];

  constructor(
    fds: number,
    private readonly sendKill: (signal: NodeJS.Signals) => void,
  ) {
    super();
    this.stdio = [this.stdin, this.stdout, this.stderr];
    if (fds > 3) this.stdio.push(new PassThrough());
  }

  /** The helper sent the real pipe of fd `fd`. */
  gotPipe(fd: number, sock: Socket): void {
    sock.on("error", () => {});
    const mine = this.stdio[fd];
    if (!mine || mine.destroyed) return void sock.destroy();
    this.came.add(fd);
    if (fd === 0) {
      // Nothing is read from a child's stdin; its end is ours to write and end.
      sock.pause();
      mine.pipe(sock);
    } else {
      sock.pipe(mine);
      // A reader that stops early (the info fd once the pid is known) closes the real pipe.
      mine.once("close", () => sock.destroy());
    }
  }

  gotPid(pid: number): void {
    this.pid = pid;
  }

  /** The process ended (or could not be started: `err`). */
  gotExit(code: number | null, signal: NodeJS.Signals | null, err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    // Pipes that never came (it could not start, or the helper died first) end here.
    this.stdio.forEach((s, fd) => {
      if (fd > 0 && !this.came.has(fd)) s.end();
    });
    if (err) {
      this.emit("error", err);
      return;
    }
    this.exitCode = code;
    this.emit("exit", code, signal);
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    if (this.ended) return false;
    this.sendKill(signal);
    return true;
  }
}
