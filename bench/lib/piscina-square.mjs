// Plain JS copy of piscina-square.ts for worker threads (they load it without tsx).
export default function squareBatch(xs) {
  const out = new Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = xs[i] * xs[i];
  return out;
}
