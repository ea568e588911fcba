// Web endpoints: `npx skiff deploy examples/web-hello.ts` (or `npx skiff serve` it while you
// edit), then open the printed URLs. docs/web.md walks through it with curl.
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { App } from "skiff";
import { z } from "zod";

export const app = new App("web-hello");

// JSON in, JSON out: GET takes the query string, converted and checked by the schema.
export const greet = app.webEndpoint(
  { method: "GET", schema: z.object({ name: z.string().min(1), excited: z.stringbool().default(false) }) },
  ({ name, excited }) => ({ greeting: `Hello, ${name}${excited ? "!" : "."}` }),
);

// A POST endpoint that only an endpoint token (`skiff token new --web`) may call.
export const total = app.webEndpoint(
  { method: "POST", requiresAuth: true, schema: z.object({ items: z.array(z.number()).max(1000) }) },
  ({ items }) => ({ total: items.reduce((a, b) => a + b, 0) }),
);

// A whole Hono app: routes, and server-sent events streamed as they are produced.
const hono = new Hono();
hono.get("/", (c) => c.text("web-hello api\n"));
hono.get("/countdown/:from", (c) =>
  streamSSE(c, async (s) => {
    for (let i = Number(c.req.param("from")); i >= 0; i--) {
      await s.writeSSE({ data: String(i) });
      await s.sleep(100);
    }
  }),
);
export const api = app.fetchApp({ label: "api", concurrency: { maxInputs: 32 } }, () => hono.fetch);
