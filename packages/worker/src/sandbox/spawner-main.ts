/**
 * The command helper's process (spawner.ts): runs the commands the provider sends over its IPC
 * channel and reports how each ended, and starts container processes for it (their stdio
 * pipes are handed to the server over the channel, so the server reads and writes them
 * itself). It imports nothing but child_process, and leaves as soon as the channel closes: the
 * server exited, or was killed (kill -9 included: the kernel closes the socket), so it never
 * outlives the server. The containers it started go with it: bubblewrap's --die-with-parent
 * is tied to this process, their parent.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import type { Socket } from "node:net";
import type { HelperEvent, SpawnerReply, SpawnerRequest, SpawnRequest } from "./spawner.js";

/** Output kept per command: the scripts it runs print an error line or two at most. */
const MAX_OUTPUT = 64 * 1024;

/** Processes started for the server and not yet exited (as many as its containers). */
const children = new Map<number, ChildProcess>();

process.on("disconnect", () => process.exit(0));
// And once its server is gone however the channel ended: helpers were seen left running, their
// channel closed and no disconnect seen (a server stopped mid-burst, a start's pipes not yet
// sent). Unreferenced: it never keeps this process up by itself.
const SERVER = process.ppid;
setInterval(() => {
  if (process.ppid !== SERVER) process.exit(0);
}, 500).unref();
process.on("message", (m: SpawnerRequest | SpawnRequest | { kill: number; signal: NodeJS.Signals }) => {
  if ("kill" in m) {
    children.get(m.kill)?.kill(m.signal);
    return;
  }
  if ("spawn" in m) return start(m);
  const child = execFile(m.file, m.args, { maxBuffer: MAX_OUTPUT, encoding: "utf8" }, (err, stdout, stderr) => {
    const e = err as (Error & { code?: number | string; signal?: string | null }) | null;
    const reply: SpawnerReply = {
      id: m.id,
      ok: e === null,
      stdout,
      stderr,
      ...(e ? { error: e.message, code: e.code ?? null, signal: e.signal ?? null } : {}),
    };
    // A server gone meanwhile: the reply has nowhere to go, and disconnect ends this process.
    if (process.connected) process.send!(reply, undefined, {}, ignore);
  });
  child.stdin?.on("error", () => {});
  child.stdin?.end(m.input ?? "");
});

/**
 * Starts a container's process, sends the server its pid, then its stdio pipes one by one
 * (Node sends one handle per message; each is closed here once sent), then how it ended.
 * Messages go out in order, so the server has every pipe before it hears of the exit.
 */
function start(m: SpawnRequest): void {
  const send = (e: HelperEvent, handle?: Socket) => {
    if (process.connected) process.send!(e, handle, {}, ignore);
    else handle?.destroy(); // nobody to hand it to: it must not hold this process up
  };
  const child = spawn(m.file, m.args, { env: m.env, cwd: m.cwd, stdio: Array(m.fds).fill("pipe") });
  child.on("error", (err) => send({ spawned: m.spawn, error: err.message }));
  if (child.pid === undefined) return; // the error above says why
  children.set(m.spawn, child);
  const pipes = child.stdio.slice(0, m.fds) as unknown as Socket[];
  // Node starts reading a pipe as it wraps it: what the container writes before its pipe has
  // been sent on would be read here, and lost. Stopped before this turn ends, so nothing is.
  for (const s of pipes) (s as unknown as { _handle?: { readStop(): number } })._handle?.readStop();
  send({ spawned: m.spawn, pid: child.pid });
  pipes.forEach((s, fd) => {
    send({ spawned: m.spawn, fd }, s);
  });
  child.on("exit", (code, signal) => {
    children.delete(m.spawn);
    send({ spawned: m.spawn, code, signal });
  });
}

// The server may have exited while this process started (a start that failed at once): the
// channel is closed then, and the send's error goes to `ignore` instead of a crash whose stack
// would land on the server's stderr after its one-line error.
if (process.connected) process.send!({ ready: true }, undefined, {}, ignore);

function ignore(): void {}
