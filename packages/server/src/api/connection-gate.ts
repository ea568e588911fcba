import type { Socket } from "node:net";
import type { ConnectionLimits } from "./connection-limits.js";

type GateLimits = Pick<
  ConnectionLimits,
  "maxPerAddress" | "maxSockets" | "maxUnauthenticated" | "maxApiConnections" | "maxWebRequests" | "maxWebSockets"
>;

/**
 * Admission for the public listener. Every socket counts against its source address and
 * the total (refused past either). A socket that has proved nothing yet — no request, idle
 * between keep-alive requests, or an API WebSocket before its hello — is *unproven*; past the
 * cap an unproven socket is closed: the oldest of the address holding the most of them. So a
 * flood of idle sockets, however fast it reconnects, ages out its own sockets, not the one a
 * real client on another address is about to say hello on. Authenticated API connections and
 * HTTP requests in flight have caps of their own, so neither starves the other.
 */
export class ConnectionGate {
  private readonly perAddress = new Map<string, number>();
  /** Unproven sockets by address, oldest first (a Set keeps insertion order). */
  private readonly unproven = new Map<string, Set<Socket>>();
  private unprovenCount = 0;
  /**
   * Addresses by how many unproven sockets they hold, and the largest such count: kept exact
   * as sockets come and go (each changes one count by one), so eviction always takes from the
   * heaviest address — never from a real client's lone socket while a flood holds hundreds.
   */
  private readonly bySize = new Map<number, Set<string>>();
  private maxSize = 0;
  /** Source address of each admitted socket (a closed socket may no longer say it). */
  private readonly addressOf = new WeakMap<Socket, string>();
  private sockets = 0;
  private api = 0;
  private web = 0;
  private webSockets = 0;
  /** Refusals and evictions since the last log line (logged at most once a second). */
  private readonly counts = {
    refusedAddress: 0,
    refusedTotal: 0,
    evicted: 0,
    refusedApi: 0,
    refusedWeb: 0,
    refusedWebSockets: 0,
  };
  private logTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: GateLimits,
    private readonly log: (msg: string) => void,
  ) {}

  /** For the listener's `connection` event: admits the socket or closes it. */
  accept(socket: Socket): void {
    const addr = socket.remoteAddress ?? "";
    const n = this.perAddress.get(addr) ?? 0;
    if (n >= this.limits.maxPerAddress || this.sockets >= this.limits.maxSockets) {
      this.note(n >= this.limits.maxPerAddress ? "refusedAddress" : "refusedTotal");
      socket.destroy();
      return;
    }
    this.perAddress.set(addr, n + 1);
    this.addressOf.set(socket, addr);
    this.sockets++;
    socket.once("close", () => {
      this.sockets--;
      const left = (this.perAddress.get(addr) ?? 1) - 1;
      if (left > 0) this.perAddress.set(addr, left);
      else this.perAddress.delete(addr);
      this.busy(socket);
    });
    this.idle(socket);
  }

  /** The socket proves nothing (yet or again): it may be aged out. */
  idle(socket: Socket): void {
    const addr = this.addressOf.get(socket);
    if (socket.destroyed || addr === undefined) return;
    this.busy(socket);
    let set = this.unproven.get(addr);
    if (!set) {
      set = new Set();
      this.unproven.set(addr, set);
    }
    set.add(socket);
    this.unprovenCount++;
    this.resized(addr, set.size - 1, set.size);
    while (this.unprovenCount > this.limits.maxUnauthenticated) {
      const heaviest = this.bySize.get(this.maxSize)!.values().next().value as string;
      const oldest = this.unproven.get(heaviest)!.values().next().value as Socket;
      this.busy(oldest);
      this.note("evicted");
      oldest.destroy();
    }
  }

  /**
   * Moves `addr` from the count `from` to `to` (0: none) and keeps the largest count. An empty
   * count's Set stays (at most one per count up to maxPerAddress): every web request moves its
   * socket's address down and back up by one, and a Set made and dropped each time was garbage
   * per request.
   */
  private resized(addr: string, from: number, to: number): void {
    const old = this.bySize.get(from);
    old?.delete(addr);
    if (to > 0) {
      let set = this.bySize.get(to);
      if (!set) {
        set = new Set();
        this.bySize.set(to, set);
      }
      set.add(addr);
    }
    if (to > this.maxSize) this.maxSize = to;
    else if (from === this.maxSize && !old?.size) this.maxSize = to;
  }

  /** The socket is busy with a request (or an authenticated connection): not aged out. */
  busy(socket: Socket): void {
    const addr = this.addressOf.get(socket);
    const set = addr === undefined ? undefined : this.unproven.get(addr);
    if (!set?.delete(socket)) return;
    this.unprovenCount--;
    this.resized(addr!, set.size + 1, set.size);
    if (set.size === 0) this.unproven.delete(addr!);
  }

  /**
   * An HTTP request starts: false when too many are in flight (answer 503). Either way,
   * webRequestEnded once it ends (no object or closure per request: one per request was
   * measurable garbage at gateway rates).
   */
  webRequest(socket: Socket): boolean {
    this.busy(socket);
    if (this.web >= this.limits.maxWebRequests) {
      this.note("refusedWeb");
      return false;
    }
    this.web++;
    return true;
  }

  /** A request that webRequest answered `admitted` for has ended (once per request). */
  webRequestEnded(socket: Socket, admitted: boolean): void {
    if (admitted) this.web--;
    this.idle(socket);
  }

  /**
   * A web endpoint's WebSocket opens: false past its cap (answer 503). Counted apart from HTTP
   * requests (a long-lived socket each) and API connections; `closed` when it ends.
   */
  webSocket(socket: Socket): { admitted: boolean; closed(): void } {
    return this.admit(socket, "webSockets", this.limits.maxWebSockets, "refusedWebSockets");
  }

  /** An API WebSocket authenticated: false when the cap is reached. `closed` when it ends. */
  apiAuthenticated(socket: Socket): { admitted: boolean; closed(): void } {
    return this.admit(socket, "api", this.limits.maxApiConnections, "refusedApi");
  }

  /** Counts one more under `cap` (or refuses it, noted); `closed` takes it back once. */
  private admit(
    socket: Socket,
    counter: "api" | "webSockets",
    cap: number,
    refused: "refusedApi" | "refusedWebSockets",
  ): { admitted: boolean; closed(): void } {
    if (this[counter] >= cap) {
      this.note(refused);
      return { admitted: false, closed() {} };
    }
    this.busy(socket);
    this[counter]++;
    let ended = false;
    return {
      admitted: true,
      closed: () => {
        if (ended) return;
        ended = true;
        this[counter]--;
      },
    };
  }

  stats(): { sockets: number; unproven: number; api: number; web: number; webSockets: number; addresses: number } {
    return {
      sockets: this.sockets,
      unproven: this.unprovenCount,
      api: this.api,
      web: this.web,
      webSockets: this.webSockets,
      addresses: this.perAddress.size,
    };
  }

  close(): void {
    clearTimeout(this.logTimer);
  }

  private note(what: keyof ConnectionGate["counts"]): void {
    this.counts[what]++;
    this.logTimer ??= setTimeout(() => {
      this.logTimer = undefined;
      const c = this.counts;
      this.log(
        `connection limits: refused ${c.refusedAddress} (over --max-per-address ${this.limits.maxPerAddress}), ` +
          `${c.refusedTotal} (over ${this.limits.maxSockets} sockets), ${c.refusedApi} API (over --max-api-connections), ` +
          `${c.refusedWeb} web requests (over --max-web-requests), ${c.refusedWebSockets} web WebSockets ` +
          `(over --max-web-sockets); closed ${c.evicted} oldest unauthenticated ` +
          `(over --max-unauthenticated ${this.limits.maxUnauthenticated})`,
      );
      for (const k of Object.keys(c) as (keyof typeof c)[]) c[k] = 0;
    }, 1000);
    this.logTimer.unref();
  }
}
