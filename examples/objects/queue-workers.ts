// A producer and several consumers over a Queue: `npx skiff run examples/objects/queue-workers.ts`.
// Each job is received by exactly one consumer; consumers wait on `get` and are woken by the put.
import { App, Queue } from "skiff";

export const app = new App("queue-workers");

const CONSUMERS = 3;

export const consumer = app.function({ maxContainers: CONSUMERS }, async (queueName: string, id: number) => {
  const q = Queue.fromName<number | null>(queueName);
  let handled = 0;
  for (;;) {
    const job = await q.get({ timeoutMs: 30_000 });
    if (job === null || job === undefined) return { id, handled }; // null: the producer is done
    handled++;
  }
});

export const producer = app.function(async (queueName: string, jobs: number) => {
  const q = Queue.fromName<number | null>(queueName);
  await q.putMany(Array.from({ length: jobs }, (_, i) => i));
  await q.putMany(Array.from({ length: CONSUMERS }, () => null)); // one stop per consumer
  return jobs;
});

app.localEntrypoint(async () => {
  const name = "queue-workers-jobs";
  const named = Queue.fromName<number | null>(name, { createIfMissing: true });
  await named.clear({ all: true });
  const results = Promise.all(Array.from({ length: CONSUMERS }, (_, i) => consumer.remote(name, i)));
  console.log("produced", await producer.remote(name, 1000), "jobs");
  for (const r of await results) console.log(`consumer ${r.id} handled ${r.handled}`);
});
