// A BullMQ worker in its own process, as Skiff's container is: squares its input.
import { Worker } from "bullmq";

const port = Number(process.argv[2]);
const concurrency = Number(process.argv[3] ?? 1);
const worker = new Worker("bench", async (job) => (job.data.x as number) * (job.data.x as number), {
  connection: { host: "127.0.0.1", port },
  concurrency,
});
worker.on("ready", () => process.send?.("ready"));
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));
// Never outlive the benchmark that forked this worker.
process.on("disconnect", () => process.exit(0));
