/**
 * The command helper's process (spawner.ts): runs the commands the provider sends over its IPC
 * channel and reports how each ended. It imports nothing but child_process, and leaves as soon
 * as the channel closes: the server exited, or was killed (kill -9 included: the kernel closes
 * the socket), so it never outlives the server.
 */
import { execFile } from "node:child_process";
import type { SpawnerReply, SpawnerRequest } from "./spawner.js";

/** Output kept per command: the scripts it runs print an error line or two at most. */
const MAX_OUTPUT = 64 * 1024;

process.on("disconnect", () => process.exit(0));
process.on("message", (m: SpawnerRequest) => {
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
// The server may have exited while this process started (a start that failed at once): the
// channel is closed then, and the send's error goes to `ignore` instead of a crash whose stack
// would land on the server's stderr after its one-line error.
if (process.connected) process.send!({ ready: true }, undefined, {}, ignore);

function ignore(): void {}
