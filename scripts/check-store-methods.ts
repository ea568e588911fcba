// After the end-to-end tests ran on Postgres with SKIFF_STORE_METHOD_LOG=<file>: fails unless
// every method of the Store interface was called by some server of that run.
//   node --import tsx scripts/check-store-methods.ts <file>
import { readFileSync } from "node:fs";

const file = process.argv[2];
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
  console.error(`never called: ${missing.join(", ")}`);
  process.exit(1);
}
