/**
 * Caps on how long readers wait for a response head, all of one length, under one timer.
 * Entries come due in the order they were added, so only the oldest needs a timer; one that
 * is answered first is deleted (a Map keeps insertion order and deletes in O(1)). A
 * setTimeout and clearTimeout per web request cost more than this, and held a closure each.
 */
export class WaitCaps<K, V> {
  private readonly entries = new Map<K, { at: number; value: V }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    /** Called once for an entry still here when its cap passes (it is deleted first). */
    private readonly fire: (key: K, value: V) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Caps `key` at `ms` from now (again, if it was capped already: it moves to the end). */
  add(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { at: Date.now() + this.ms, value });
    if (!this.timer) this.arm(this.ms);
  }

  /** The key was answered (or left): its cap will not fire. */
  delete(key: K): void {
    if (!this.entries.delete(key) || this.entries.size > 0 || !this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.expire(), ms);
  }

  private expire(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const [key, e] of this.entries) {
      if (e.at > now) {
        this.arm(e.at - now);
        return;
      }
      this.entries.delete(key);
      this.fire(key, e.value);
    }
  }
}
