import { readFileSync } from "node:fs";

/**
 * What one client may hold of the control plane: bytes per connection, connections per
 * address and in all, time to authenticate and to send a request. Every number here bounds
 * something a hostile client could otherwise grow (docs/security.md).
 */
export interface ConnectionLimits {
  /** Bytes queued for one connection before it is closed (checked as each message is queued). @defaultValue 128 MiB */
  maxQueuedBytes: number;
  /** A connection with bytes waiting that takes none of them for this long is closed. @defaultValue 60_000 */
  stallMs: number;
  /** An API WebSocket that has not sent a valid hello by then is closed. @defaultValue 5_000 */
  helloTimeoutMs: number;
  /** Authenticated API connections on the public listener; more are refused (1013). @defaultValue 4096 */
  maxApiConnections: number;
  /**
   * Connections that have not yet proved anything: TCP sockets with no request yet (or idle
   * between keep-alive requests) and API WebSockets before their hello. Past it the oldest
   * is closed, so a flood of idle sockets cannot lock out a real client. @defaultValue 2048
   */
  maxUnauthenticated: number;
  /** Open sockets from one source address; more are refused. @defaultValue 512 */
  maxPerAddress: number;
  /** HTTP requests in flight (web endpoints, result URLs, JSON API); more get 503. @defaultValue 4096 */
  maxWebRequests: number;
  /** Open sockets on the public listener in all; a backstop below the process's file limit. */
  maxSockets: number;
  /** Time to receive a request's headers (slowloris). @defaultValue 10_000 */
  headersTimeoutMs: number;
  /** Time to receive a whole request, body included. @defaultValue 300_000 */
  requestTimeoutMs: number;
  /** An idle keep-alive socket is closed after this long. @defaultValue 5_000 */
  keepAliveTimeoutMs: number;
}

export function defaultConnectionLimits(): ConnectionLimits {
  return {
    maxQueuedBytes: 128 * 1024 * 1024,
    stallMs: 60_000,
    helloTimeoutMs: 5_000,
    maxApiConnections: 4096,
    maxUnauthenticated: 2048,
    maxPerAddress: 512,
    maxWebRequests: 4096,
    maxSockets: socketsForFileLimit(openFileLimit()),
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 300_000,
    keepAliveTimeoutMs: 5_000,
  };
}

/** Leaves a quarter of the descriptors (and at least 256) to the store, containers and logs. */
export function socketsForFileLimit(limit: number): number {
  return Math.max(64, Math.min(limit - 256, Math.floor(limit * 0.75)));
}

/** The soft limit on open files of this process (Node raises it to the hard limit at start). */
function openFileLimit(): number {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m && m[1] !== "unlimited") return Number(m[1]);
  } catch {}
  return 65_536;
}
