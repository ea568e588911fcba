// The baselines of bench/web-node.ts: the same Express app and `ws` echo server served
// directly, in their own process like the Skiff server. Prints their ports.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expressEcho, wsEcho } from "../apps/web-node-app.js";

const ex = createServer(expressEcho());
const ws = wsEcho();
await new Promise<void>((r) => ex.listen(0, "127.0.0.1", r));
await new Promise<void>((r) => ws.listen(0, "127.0.0.1", r));
process.send?.({ express: (ex.address() as AddressInfo).port, ws: (ws.address() as AddressInfo).port });
process.on("SIGTERM", () => process.exit(0));
