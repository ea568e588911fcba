/**
 * Wakes a loop that waits for events (stream items, map results, a lost connection): `wait()`
 * resolves at the next `poke()`. One waiter at a time.
 */
export class Wakeup {
  private waiter: (() => void) | undefined;

  poke(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiter = resolve;
    });
  }
}
