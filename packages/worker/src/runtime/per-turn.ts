/**
 * Collects what is reported during one event-loop turn and hands it over as one list at the
 * turn's end (outputs finished in one tick leave as one message: fewer envelopes to encode
 * and route).
 */
export function perTurn<T>(send: (items: T[]) => void): (item: T) => void {
  let pending: T[] = [];
  return (item) => {
    pending.push(item);
    if (pending.length === 1) {
      setImmediate(() => {
        const items = pending;
        pending = [];
        send(items);
      });
    }
  };
}
