import type { PeerSocket } from "./api/framed-socket.js";
import type { Engine } from "./engine/engine.js";
import type { Gateway } from "./gateway/index.js";
import type { Store } from "./store/store.js";

/** The WebSocket close code for a server going away to come back (RFC 6455 "Service Restart"). */
export const CLOSE_SERVICE_RESTART = 1012;

/** The default grace of a graceful stop (`skiff server --shutdown-grace-ms`). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

/**
 * Whether the server is stopping. A graceful stop (SIGTERM) drains: no new work is taken (work
 * requests are left unanswered for the next server, see api/handlers.ts; endpoint requests and
 * API connections get 503 with Retry-After), running inputs finish within the grace, everything
 * is committed, and the clients' connections close with 1012 so that they reconnect.
 */
export class Lifecycle {
  draining = false;
}

export interface DrainParts {
  lifecycle: Lifecycle;
  engine: Engine;
  gateway: Gateway;
  store: Store;
  /** Every API connection (WebSockets and the framed stream's). */
  sockets: () => Iterable<PeerSocket>;
  log: (msg: string) => void;
}

/** What a graceful stop did. */
export interface DrainReport {
  /** Inputs still running when the grace ended (they run again after the next start). */
  stillRunning: number;
  /** Web requests answered 503 because their response had not begun. */
  webAnswered503: number;
  ms: number;
}

/** Stops taking work, lets running inputs finish within `graceMs`, commits, closes clients (1012). */
export async function drain(p: DrainParts, graceMs: number): Promise<DrainReport> {
  const t0 = Date.now();
  p.lifecycle.draining = true;
  p.gateway.drain();
  const { running } = await p.engine.drain(graceMs);
  const webAnswered503 = p.gateway.answerWaiting();
  await p.store.flush().catch((err: Error) => p.log(`the last commit failed: ${err.message}`));
  for (const c of p.sockets()) c.close(CLOSE_SERVICE_RESTART, "the server is restarting");
  const report = { stillRunning: running, webAnswered503, ms: Date.now() - t0 };
  p.log(
    `drained in ${report.ms} ms: ${running === 0 ? "every running input finished" : `${running} input(s) still running will run again after the next start`}${webAnswered503 > 0 ? `; ${webAnswered503} web request(s) answered 503` : ""}`,
  );
  return report;
}
