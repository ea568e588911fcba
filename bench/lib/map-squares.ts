import { type Client, Function_ } from "skiff";

/** `square` (x => x * x) of bench/apps/map.ts and its variants. */
export type Square = Function_<(x: number) => Promise<number>>;

/** Looks up `square` of app `app` and maps 5 000 inputs through it: its containers up, warm. */
export async function warmSquare(app: string, client: Client): Promise<Square> {
  const sq = await Function_.lookup<Square>(app, "square", { client });
  await warmUp(sq);
  return sq;
}

/** A map of 5 000 inputs: the containers up again (after a restart too). */
export async function warmUp(sq: Square): Promise<void> {
  await sq.map(Array.from({ length: 5000 }, (_, i) => i)).toArray();
}

/**
 * Maps 0…n-1 through `sq` (inputs made as the map takes them), checks each output is its
 * input's square and in order, and calls `onOutput` with the count after each. Throws unless
 * all n came back. Returns the wall time in ms.
 */
export async function mapSquares(sq: Square, n: number, onOutput?: (count: number) => void): Promise<number> {
  const t = performance.now();
  let count = 0;
  for await (const y of sq.map(
    (function* () {
      for (let i = 0; i < n; i++) yield i;
    })(),
  )) {
    if (y !== count * count) throw new Error(`wrong result at ${count}`);
    count++;
    onOutput?.(count);
  }
  if (count !== n) throw new Error(`${count} outputs, not ${n}`);
  return performance.now() - t;
}
