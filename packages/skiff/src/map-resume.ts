import { type MapInputWire, packPayloads } from "@skiff/protocol";
import type { Client } from "./client.js";
import { ConnectionError, NotFoundError, SkiffError } from "./errors.js";

/** Most inputs sent in one map.put. */
export const PUT_BATCH = 512;

/**
 * A map's link to the server, which outlives the connection (architecture.md §3: the caller
 * holds what the server has not committed and sends it again). Every input sent is held here
 * until its output arrives — at most one window of them, so memory stays bounded. When the
 * connection drops (the server was restarted, killed, or the network failed), the map is taken
 * back with map.resume once the connection is back, every held input is sent again (the server
 * skips those it still has; the others run again) and map.end follows if it had been sent.
 * An output for an input that is no longer held (it ran twice) is dropped: each input's output
 * reaches the caller once.
 */
export class MapLink {
  private readonly held = new Map<number, MapInputWire>();
  private attached = true;
  /** Bumped on each drop: answers to requests of an older connection are not failures. */
  private generation = 0;
  private puts: Promise<unknown> = Promise.resolve();
  private total: number | undefined;
  /** Set when the map cannot go on: the caller's loop throws it. */
  failure: Error | undefined;
  /** How many times the map was taken back. */
  resumes = 0;

  constructor(
    private readonly client: Client,
    private readonly callId: string,
    private readonly what: string,
    /** Called when something the caller's loop waits on changed (a failure, a resume). */
    private readonly poke: () => void,
    /** The server takes map.put's inputs as columns (its map.start reply said so). */
    private columns = false,
    /** ...and their args packed (packed.ts). */
    private packed = false,
  ) {}

  /** Inputs to send; held until their outputs arrive. While the connection is down they wait. */
  put(items: MapInputWire[]): void {
    for (const it of items) this.held.set(it.idx, it);
    if (this.attached) this.send(items);
  }

  /** No more inputs: `total` in all. */
  end(total: number): void {
    this.total = total;
    if (this.attached) this.sendEnd(total);
  }

  /** The map cannot go on: the caller's loop throws `err`. */
  fail(err: Error): void {
    this.failure ??= err;
    this.poke();
  }

  /** An output arrived for `idx`: false when it is a second one (the input ran again). */
  take(idx: number): boolean {
    return this.held.delete(idx);
  }

  /** The connection dropped: take the map back once it is up again. */
  dropped(): void {
    if (!this.attached) return; // a resume is already waiting for the connection
    this.attached = false;
    this.generation++;
    void this.resume();
  }

  private send(items: MapInputWire[]): void {
    const gen = this.generation;
    const params = this.columns
      ? {
          callId: this.callId,
          idxs: items.map((it) => it.idx),
          args: this.packed ? packPayloads(items.map((it) => it.args)) : items.map((it) => it.args),
        }
      : { callId: this.callId, items };
    this.puts = Promise.all([this.puts, this.client.request("map.put", params)]).catch((err: Error) =>
      this.failed(err, gen),
    );
  }

  private sendEnd(total: number): void {
    const gen = this.generation;
    this.puts = this.puts
      .then(() =>
        gen === this.generation ? this.client.request("map.end", { callId: this.callId, total }) : undefined,
      )
      .catch((err: Error) => this.failed(err, gen));
  }

  private failed(err: Error, gen: number): void {
    if (gen !== this.generation) return; // lost with its connection: the resume sends it again
    this.failure ??= err;
    this.poke();
  }

  private async resume(): Promise<void> {
    const gen = this.generation;
    this.puts = Promise.resolve();
    try {
      // Retryable: if the connection drops again before the answer, it goes again on the next one.
      const r = await this.client.request(
        "map.resume",
        { callId: this.callId, columns: true, packed: true },
        { retryable: true },
      );
      // The server that took it back may be another build.
      this.columns = r.columns === true;
      this.packed = r.packed === true;
    } catch (err) {
      const e = err as Error;
      this.failure ??=
        e instanceof NotFoundError
          ? new NotFoundError(`${this.what}: cannot resume the map after the connection dropped: ${e.message}`)
          : e instanceof ConnectionError
            ? new ConnectionError(
                `${this.what}: the connection to the server was lost during the map and did not come back: ${e.message}`,
                { cause: e },
              )
            : new SkiffError(`${this.what}: cannot resume the map: ${e.message}`, { cause: e });
      this.poke();
      return;
    }
    if (gen !== this.generation) return;
    this.attached = true;
    this.resumes++;
    // In index order; the server skips what it still has.
    const items = [...this.held.values()].sort((a, b) => a.idx - b.idx);
    for (let i = 0; i < items.length; i += PUT_BATCH) this.send(items.slice(i, i + PUT_BATCH));
    this.client._mapResumed?.({ callId: this.callId, resent: items.length });
    if (this.total !== undefined) this.sendEnd(this.total);
    this.poke();
  }
}
