// A plain Node script, no TypeScript tooling: looks up the deployed `square` and calls it.
//   node examples/client.mjs
import { Function_ } from "skiff";

const square = await Function_.lookup("my-shared-app", "square");
console.log("square(42) =", await square.remote(42));

// Fan out over containers: inputs stream in, results come back in input order.
const squares = await square.map([1, 2, 3, 4, 5]).toArray();
console.log("squares:", squares.join(", "));

// Many calls in flight at once also work with plain promises.
const more = await Promise.all([6, 7].map((x) => square.remote(x)));
console.log("more:", more.join(", "));
