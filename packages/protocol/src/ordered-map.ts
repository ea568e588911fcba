interface Entry<K, V> {
  key: K;
  value: V;
  older: Entry<K, V> | undefined;
  newer: Entry<K, V> | undefined;
}

/**
 * A map that keeps its keys in order of age and holds at most `max` of them: setting a new key
 * past that drops the oldest. For bounded caches and tables evicted oldest first (FIFO) or
 * least recently used first (`touch` makes a key the newest).
 *
 * Every operation is O(1): the order is a linked list through the entries. Evicting from a
 * plain Map with `map.delete(map.keys().next().value)` is not: V8 leaves deleted entries in
 * the Map's table until its next rehash, and `keys().next()` walks over them, so once a Map
 * has seen many deletes (an LRU's touch is one) each eviction costs tens of µs at 10 000
 * entries (bench/ordered-map.ts).
 *
 * Setting a key that is held updates its value and keeps its age, as a Map's order does.
 */
export class OrderedMap<K, V> {
  private readonly map = new Map<K, Entry<K, V>>();
  private oldestEntry: Entry<K, V> | undefined;
  private newestEntry: Entry<K, V> | undefined;

  /** @param max how many keys are held at most (Infinity: no bound, evict with `shift`). */
  constructor(readonly max: number) {
    if (!(max === Number.POSITIVE_INFINITY || (Number.isInteger(max) && max >= 1)))
      throw new RangeError(`max must be a positive integer, not ${max}`);
  }

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  get(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /**
   * Sets a key's value. A new key becomes the newest; past `max`, the oldest is dropped and
   * returned (as [key, value]) so that a caller can release what it held.
   */
  set(key: K, value: V): [K, V] | undefined {
    const held = this.map.get(key);
    if (held) {
      held.value = value;
      return undefined;
    }
    const e: Entry<K, V> = { key, value, older: this.newestEntry, newer: undefined };
    if (this.newestEntry) this.newestEntry.newer = e;
    else this.oldestEntry = e;
    this.newestEntry = e;
    this.map.set(key, e);
    return this.map.size > this.max ? this.shift() : undefined;
  }

  /** Makes a held key the newest (least recently used first); its value, or undefined. */
  touch(key: K): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e !== this.newestEntry) {
      this.unlink(e);
      e.older = this.newestEntry;
      e.newer = undefined;
      this.newestEntry!.newer = e;
      this.newestEntry = e;
    }
    return e.value;
  }

  delete(key: K): boolean {
    const e = this.map.get(key);
    if (!e) return false;
    this.map.delete(key);
    this.unlink(e);
    return true;
  }

  /** The oldest entry, left in place. */
  oldest(): [K, V] | undefined {
    const e = this.oldestEntry;
    return e ? [e.key, e.value] : undefined;
  }

  /** Removes and returns the oldest entry. */
  shift(): [K, V] | undefined {
    const e = this.oldestEntry;
    if (!e) return undefined;
    this.map.delete(e.key);
    this.unlink(e);
    return [e.key, e.value];
  }

  clear(): void {
    this.map.clear();
    this.oldestEntry = this.newestEntry = undefined;
  }

  /** Keys, oldest first. */
  *keys(): IterableIterator<K> {
    for (let e = this.oldestEntry; e; e = e.newer) yield e.key;
  }

  /** Entries, oldest first. Deleting the entry just yielded is safe. */
  *entries(): IterableIterator<[K, V]> {
    for (let e = this.oldestEntry; e; e = e.newer) yield [e.key, e.value];
  }

  /** Values, oldest first. */
  *values(): IterableIterator<V> {
    for (let e = this.oldestEntry; e; e = e.newer) yield e.value;
  }

  private unlink(e: Entry<K, V>): void {
    if (e.older) e.older.newer = e.newer;
    else this.oldestEntry = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.newestEntry = e.older;
  }
}
