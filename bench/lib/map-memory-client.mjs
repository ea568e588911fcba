// The client side of bench/map-memory.ts, as a plain Node process (compiled SDK, no TypeScript
// loader), so its peak RSS is the SDK's own. Prints one JSON line.
import { Function_ } from "skiff";

const N = Number(process.argv[2]);
const sq = await Function_.lookup("bench-map", "square");
async function* inputs() {
  for (let i = 0; i < N; i++) yield i;
}
const t = performance.now();
let n = 0;
let positive = 0;
for await (const y of sq.map(inputs(), { orderOutputs: false })) {
  n++;
  if (y > 0) positive++;
}
const secs = (performance.now() - t) / 1000;
console.log(JSON.stringify({ n, positive, secs, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
process.exit(0);
