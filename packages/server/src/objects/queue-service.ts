import { ApiError, invalid, notFound } from "../api/api-error.js";
import type { ObjectStore, QueueItems, QueueRun } from "../store/object-store.js";
import { rowsOf, runBody } from "../store/queue-runs.js";
import { MAX_GET_BYTES, MAX_LEASES_PER_PEER, type ObjectLimits } from "./limits.js";
import { empty, type GetReply, packRuns } from "./queue-wire.js";

/** The connection a get answers: items handed to it are leased until it acknowledges them. */
export interface LeaseHolder {
  readonly isOpen: boolean;
  /** Run when the connection closes. */
  readonly cleanups: Set<() => void>;
}

interface Waiter {
  holder: LeaseHolder;
  n: number;
  /** Answer with `items` (the client asked so). */
  packed: boolean;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
  cleanup: () => void;
  resolve(r: GetReply): void;
  reject(err: Error): void;
}

interface Lease {
  queueId: string;
  partition: string;
  ids: number[];
}

interface HolderLeases {
  next: number;
  leases: Map<number, Lease>;
  cleanup: () => void;
}

const keyOf = (queueId: string, partition: string) => `${queueId}\u0000${partition}`;

/** How many of `runs`, from the first, hold at most `max` bytes of items (at least one). */
function runsWithin(runs: QueueRun[], max: number): number {
  let bytes = runBody(runs[0]!).byteLength;
  let i = 1;
  for (; i < runs.length; i++) {
    bytes += runBody(runs[i]!).byteLength;
    if (bytes > max) break;
  }
  return i;
}

/** The ids (places) of taken items. */
function idsOf(runs: QueueRun[]): number[] {
  const ids: number[] = [];
  for (const r of runs) for (let i = 0; i < r.n; i++) ids.push(r.seq + i);
  return ids;
}

/**
 * Queues over the object store. Items are rows; a get that finds none waits here, in arrival
 * order per partition, and a put wakes waiters at once (no polling). A get's items are leased
 * to its connection until the client acknowledges them (an event, no round trip): if the
 * connection is lost first they go back in place, at the front (at-least-once). After a
 * server restart no lease is held, so an unacknowledged item is never lost.
 */
export class QueueService {
  /** Waiting gets per partition, oldest first. Each is a pending request, bounded per connection. */
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly draining = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly holders = new WeakMap<LeaseHolder, HolderLeases>();

  constructor(
    private readonly store: ObjectStore,
    private readonly limits: ObjectLimits,
    private readonly log: (msg: string) => void,
  ) {}

  /** Adds the items of a put (putItems) in order, all or none. */
  async put(queueId: string, label: string, partition: string, items: QueueItems): Promise<void> {
    const max = this.limits.queueMaxItemBytes;
    const { ends } = items;
    for (let i = 0, from = items.start; i < ends.length; from = ends[i++]!) {
      const size = ends[i]! - from;
      if (size > max)
        throw invalid(
          `item ${i} is ${size} bytes, over the Queue item limit of ${max} bytes (server flag --queue-max-item-bytes)`,
        );
    }
    const r = await this.store.queuePut(queueId, partition, items, Date.now(), {
      maxItems: this.limits.queueMaxItems,
      maxPartitions: this.limits.queueMaxPartitions,
    });
    if (!r.ok) {
      const where = partition ? `partition "${partition}" of Queue ${label}` : `Queue ${label}`;
      if (r.reason === "full")
        throw new ApiError(
          "failed_precondition",
          `${where} is full: it holds ${r.size} items and ${ends.length} more would pass the limit of ${this.limits.queueMaxItems} per partition (server flag --queue-max-items); nothing was added`,
        );
      throw new ApiError(
        "failed_precondition",
        `Queue ${label} has ${r.count} partitions, the limit (server flag --queue-max-partitions); nothing was added`,
      );
    }
    void this.drain(queueId, partition);
  }

  get(
    holder: LeaseHolder,
    queueId: string,
    partition: string,
    n: number,
    timeoutMs: number | undefined,
    packed = false,
  ): Promise<GetReply> {
    const held = this.holders.get(holder);
    if (held && held.leases.size >= MAX_LEASES_PER_PEER)
      throw invalid(`this connection holds ${MAX_LEASES_PER_PEER} unacknowledged queue gets (send queue.ack)`);
    return new Promise((resolve, reject) => {
      const key = keyOf(queueId, partition);
      const w: Waiter = {
        holder,
        n,
        packed,
        done: false,
        timer: undefined,
        cleanup: () => this.finish(w),
        resolve,
        reject,
      };
      let list = this.waiters.get(key);
      if (!list) {
        list = [];
        this.waiters.set(key, list);
      }
      list.push(w);
      holder.cleanups.add(w.cleanup);
      if (timeoutMs !== undefined && timeoutMs > 0)
        w.timer = setTimeout(() => {
          if (this.finish(w)) resolve(empty(packed));
        }, timeoutMs);
      void this.drain(queueId, partition).then(() => {
        if (timeoutMs === 0 && this.finish(w)) resolve(empty(packed));
      });
    });
  }

  /** The client received a get's items: they are removed for good. */
  ack(holder: LeaseHolder, leaseId: number): void {
    const held = this.holders.get(holder);
    const lease = held?.leases.get(leaseId);
    if (!held || !lease) return;
    held.leases.delete(leaseId);
    void this.store.queueAck(lease.queueId, lease.partition, lease.ids).catch((err) => this.failed("ack", err));
  }

  len(queueId: string, partition: string | undefined): Promise<number> {
    return this.store.queueLen(queueId, partition);
  }

  clear(queueId: string, partition: string | undefined): Promise<void> {
    return this.store.queueClear(queueId, partition);
  }

  /** Partitions with no put within the TTL are dropped. */
  expire(now: number): Promise<number> {
    return this.store.queueExpire(now - this.limits.queuePartitionTtlMs);
  }

  /** A queue was deleted: its waiting gets fail, naming it. */
  deleted(queueId: string, label: string): void {
    for (const [key, list] of this.waiters) {
      if (!key.startsWith(`${queueId}\u0000`)) continue;
      for (const w of list) if (this.finish(w)) w.reject(notFound(`Queue ${label} was deleted while this get waited`));
      this.waiters.delete(key);
    }
  }

  /** Ends a waiter once; false if it already ended. */
  private finish(w: Waiter): boolean {
    if (w.done) return false;
    w.done = true;
    if (w.timer) clearTimeout(w.timer);
    w.holder.cleanups.delete(w.cleanup);
    return true;
  }

  /** Hands items to waiting gets of a partition, oldest first, while there are items. */
  private drain(queueId: string, partition: string): Promise<void> {
    const key = keyOf(queueId, partition);
    const running = this.draining.get(key);
    if (running) {
      this.again.add(key);
      return running;
    }
    const p = (async () => {
      do {
        this.again.delete(key);
        const list = this.waiters.get(key);
        while (list && list.length > 0) {
          const w = list[0]!;
          if (w.done) {
            list.shift();
            continue;
          }
          const runs = await this.store.queueTake(queueId, partition, w.n);
          if (runs.length === 0) break;
          if (!this.finish(w) || !w.holder.isOpen) {
            // Ended (timed out, connection closed) while the items were taken: they go back.
            list.shift();
            await this.store.queueRelease(queueId, partition, idsOf(runs));
            continue;
          }
          list.shift();
          // At most MAX_GET_BYTES of items to one get (at least one run): what does not fit
          // goes back in place at once, for the next get.
          const fit = runsWithin(runs, MAX_GET_BYTES);
          this.deliver(w, queueId, partition, fit < runs.length ? runs.slice(0, fit) : runs);
          if (fit < runs.length) await this.store.queueRelease(queueId, partition, idsOf(runs.slice(fit)));
        }
        if (list && list.length === 0 && this.waiters.get(key) === list) this.waiters.delete(key);
      } while (this.again.has(key));
    })()
      .catch((err) => this.failed("get", err))
      .finally(() => this.draining.delete(key));
    this.draining.set(key, p);
    return p;
  }

  private deliver(w: Waiter, queueId: string, partition: string, runs: QueueRun[]): void {
    let held = this.holders.get(w.holder);
    if (!held) {
      const h: HolderLeases = { next: 1, leases: new Map(), cleanup: () => this.holderClosed(h) };
      held = h;
      this.holders.set(w.holder, h);
      w.holder.cleanups.add(h.cleanup);
    }
    const leaseId = held.next++;
    held.leases.set(leaseId, { queueId, partition, ids: idsOf(runs) });
    w.resolve(w.packed ? { items: packRuns(runs), leaseId } : { values: rowsOf(runs).map((r) => r.value), leaseId });
  }

  /** A connection closed with items it never acknowledged: they go back in place. */
  private holderClosed(held: HolderLeases): void {
    const leases = [...held.leases.values()];
    held.leases.clear();
    for (const l of leases) {
      void this.store
        .queueRelease(l.queueId, l.partition, l.ids)
        .then(() => this.drain(l.queueId, l.partition))
        .catch((err) => this.failed("release", err));
    }
  }

  private failed(what: string, err: unknown): void {
    this.log(`queue ${what} failed: ${(err as Error)?.message ?? String(err)}`);
  }
}
