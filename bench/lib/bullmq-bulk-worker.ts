// A BullMQ worker (concurrency from argv) that reports to its parent when `expected` jobs completed.
import { Worker } from "bullmq";

const port = Number(process.argv[2]);
const concurrency = Number(process.argv[3] ?? 50);
const expected = Number(process.argv[4]);
let done = 0;
const worker = new Worker("bench-bulk", async (job) => (job.data.x as number) * (job.data.x as number), {
  connection: { host: "127.0.0.1", port },
  concurrency,
  removeOnComplete: { count: 0 },
});
worker.on("completed", () => {
  if (++done === expected) process.send?.("done");
});
worker.on("ready", () => process.send?.("ready"));
process.on("disconnect", () => process.exit(0));
