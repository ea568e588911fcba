// Seed flow 3: a web server that queues a job per POST and answers its status by polling.
//   npx skiff deploy examples/job-queue/jobs.ts
//   npx tsx examples/job-queue/server.ts      (PORT=3000 by default)
//   curl -X POST localhost:3000/jobs -H 'content-type: application/json' -d '{"text":"hello world"}'
//   curl localhost:3000/jobs/<id>
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { Function_, FunctionCall, TimeoutError } from "skiff";
import type { process_ } from "./jobs.js";

const job = Function_.fromName<typeof process_>("job-queue", "process");
const app = new Hono();

app.post("/jobs", async (c) => {
  const body = await c.req.json().catch(() => null);
  if (!body || typeof body.text !== "string") return c.json({ error: 'send {"text": "..."}' }, 400);
  const call = await job.spawn(body.text, typeof body.delayMs === "number" ? body.delayMs : undefined);
  // The call id is all there is to store: any process can collect the result with it.
  return c.json({ id: call.objectId }, 202);
});

app.get("/jobs/:id", async (c) => {
  let call: FunctionCall<Awaited<ReturnType<typeof process_.local>>>;
  try {
    call = FunctionCall.fromId(c.req.param("id"));
  } catch {
    return c.json({ error: "not a job id" }, 400);
  }
  try {
    return c.json({ status: "done", result: await call.get({ timeoutMs: 0 }) });
  } catch (err) {
    if (err instanceof TimeoutError) return c.json({ status: "pending" });
    return c.json({ status: "failed", error: (err as Error).message }, 500);
  }
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" }, (info) => {
  console.log(`job queue listening on http://127.0.0.1:${info.port}`);
});
process.on("SIGTERM", () => server.close());
process.on("SIGINT", () => server.close());
