import { rmSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { FRAMED_PREAMBLE, preambleState } from "@skiff/protocol";

/** A second server started on a data directory a running server uses. */
export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
}

/**
 * Makes way for this server's control socket at `path` (in its data directory): a file left
 * there by a server that is gone is removed; one a running server still answers on is not,
 * and this start fails instead. Removed, it would cut that server's containers off, and two
 * servers would then share one store. The check is a connect (about a millisecond), made
 * before the store is opened and the warm pool is started: it is what lets them start side
 * by side. Two servers started at the same instant on one directory are not told apart.
 * @throws DataDirInUseError while a server answers on `path`
 */
export async function claimControlSocket(path: string, dataDir: string): Promise<void> {
  if (await answers(path))
    throw new DataDirInUseError(
      `another Skiff server is running on the data directory ${dataDir} (its control socket ${path} answers): stop it first, or give this one another --data-dir`,
    );
  rmSync(path, { force: true });
}

/** Whether something accepts connections on the unix socket `path` (a missing or stale file: no). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * The control socket's listener: a connection that opens with the framed stream's preamble
 * (protocol framed-stream.ts: the runtimes this server starts) goes to `framed`; any other
 * to `http` (WebSocket upgrades: an older runtime, a test; `/healthz`). Decided on the first
 * bytes, which the chosen side then reads as if they had not been taken.
 */
export function controlListener(
  http: HttpServer,
  framed: (socket: Socket) => void,
  /** A connection that sends nothing for this long is closed (then hello's deadline holds). */
  firstBytesMs = 5000,
): NetServer {
  return createNetServer((socket) => {
    let head: Buffer | undefined;
    const silent = setTimeout(() => socket.destroy(), firstBytesMs);
    silent.unref();
    const decide = (chunk: Buffer) => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const state = preambleState(head);
      if (state === "undecided") return; // wait for the rest
      const isFramed = state === "framed";
      socket.off("data", decide);
      clearTimeout(silent);
      socket.pause();
      const rest = isFramed ? head.subarray(FRAMED_PREAMBLE.byteLength) : head;
      if (rest.byteLength > 0) socket.unshift(rest);
      if (isFramed) framed(socket);
      else http.emit("connection", socket);
      socket.resume();
    };
    socket.on("data", decide);
    socket.on("error", () => {}); // a peer gone before it said which: nothing to report
    socket.once("close", () => clearTimeout(silent));
  });
}
