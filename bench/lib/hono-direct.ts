// The baseline of bench/web-throughput.ts: the same trivial JSON handler on a plain Hono
// server (@hono/node-server), in its own process like the Skiff server. Prints its port.
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.json({ ok: true }));
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
  process.send?.({ port: info.port });
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
