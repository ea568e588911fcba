// A plain Node script, no TypeScript tooling: looks up the deployed `square` and calls it.
//   node examples/client.mjs
import { Function_ } from "skiff";

const square = await Function_.lookup("my-shared-app", "square");
console.log("square(42) =", await square.remote(42));

// Fan out: many calls in flight at once.
const results = await Promise.all([1, 2, 3, 4, 5].map((x) => square.remote(x)));
console.log("squares:", results.join(", "));
