import { newId } from "@skiff/protocol";

/**
 * Which idempotency keys of `call.create` the server can tell were never sent before, so that
 * it need not look them up in its store. Every call looks its key up first (a client resending
 * after a reconnect must get its earlier call back); on Postgres that lookup is a round trip
 * behind the commit in flight, on every `.remote` and `.spawn`, for keys that almost never find
 * anything.
 *
 * Each connection gets a random prefix in its hello reply (`keyPrefix`); a client makes its
 * keys as prefix + n, n counting up. A key is fresh when it carries its own connection's prefix
 * and a number above every number seen with that prefix, on any connection. Such a key cannot
 * be in the store: the prefix was made by this process for this connection (random, so no
 * earlier run or other server made it), and no key of that prefix with that number or a
 * higher one has arrived. A key with another live connection's prefix (a request resent on a
 * new connection after a reconnect) is looked up as before, and raises that connection's
 * count, so the same key coming later on its own connection is looked up too. Anything else (a
 * client that makes its own keys, a number out of order) is simply looked up.
 *
 * Bounded: one entry per open connection, removed when it closes.
 */
const live = new Map<string, { seq: number }>();

export class FreshKeys {
  /** Ends in "." (newId has none), which `claim` splits keys at. */
  readonly prefix = `${newId("ck")}.`;
  private readonly count = { seq: 0 };

  constructor() {
    live.set(this.prefix, this.count);
  }

  /**
   * Whether `key`, arriving on this connection now, was never sent before; a key is fresh at
   * most once. Call it synchronously as the request arrives (requests of a connection arrive
   * in the order its client made its keys).
   */
  claim(key: string): boolean {
    const dot = key.lastIndexOf(".");
    if (dot < 0) return false;
    const owner = live.get(key.slice(0, dot + 1));
    if (!owner) return false;
    const n = Number(key.slice(dot + 1));
    if (!Number.isSafeInteger(n)) return false;
    const fresh = owner === this.count && n > owner.seq;
    owner.seq = Math.max(owner.seq, n);
    return fresh;
  }

  /** The connection closed: its keys are looked up from now on. */
  close(): void {
    live.delete(this.prefix);
  }
}
