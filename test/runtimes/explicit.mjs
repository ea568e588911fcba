// Explicit configuration, nothing read from the environment or a file: the one argument is the
// JSON of new Client(...)'s parameters. Run as a bundle (its own WebSocket) on Bun and Deno,
// and on Node 20, which has no WebSocket (a permanent error at once).
import * as skiff from "skiff";
import { callAll, describeError } from "./calls.mjs";

const args = globalThis.Deno?.args ?? globalThis.process.argv.slice(2);
const exit = (code) => (globalThis.Deno ? globalThis.Deno.exit(code) : globalThis.process.exit(code));
let client;
try {
  client = new skiff.Client(JSON.parse(args[0]));
  console.log(JSON.stringify(await callAll(skiff, client)));
  client.close();
} catch (e) {
  console.error(describeError(e));
  client?.close();
  exit(1);
}
