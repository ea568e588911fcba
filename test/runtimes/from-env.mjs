// The installed package (its node entry, with ws) configured by SKIFF_* in the environment, the
// default client, and no close(): the process must exit by itself once the calls are done.
import * as skiff from "skiff";
import { callAll } from "./calls.mjs";

console.log(JSON.stringify(await callAll(skiff, undefined)));
