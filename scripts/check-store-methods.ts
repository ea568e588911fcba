// After the end-to-end tests ran on Postgres with SKIFF_STORE_METHOD_LOG=<file>: reports how
// many methods of the Store interface some server of that run called, and names the others
// (a NOT CHECKED line: the contract suite covers every method on Postgres; this is the
// end-to-end view). --strict fails on any missing.
//   node --import tsx scripts/check-store-methods.ts <file>
import { readFileSync } from "node:fs";

const file = process.argv.slice(2).find((a) => !a.startsWith("--"));
const strict = process.argv.includes("--strict");
if (!file) {
  console.error("usage: check-store-methods.ts <method log>");
  process.exit(2);
}
const src = readFileSync(new URL("../packages/server/src/store/store.ts", import.meta.url), "utf8");
const body = src.slice(
  src.indexOf("export interface Store {"),
  src.indexOf("\n}\n", src.indexOf("export interface Store {")),
);
const methods = [...body.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]!);
const called = new Set(readFileSync(file, "utf8").split("\n").filter(Boolean));
const missing = methods.filter((m) => !called.has(m));
console.log(`store methods exercised end to end: ${methods.length - missing.length} of ${methods.length}`);
if (missing.length > 0) {
  console.error(`NOT CHECKED end to end on Postgres (called by no server of this run): ${missing.join(", ")}`);
  if (strict) process.exit(1);
}
