// The job the queue runs: deploy it with `npx skiff deploy examples/job-queue/jobs.ts`.
import { App } from "skiff";

export const app = new App("job-queue");

export const process_ = app.function({ name: "process", timeoutMs: 60_000 }, async (text: string, delayMs = 500) => {
  await new Promise((r) => setTimeout(r, delayMs));
  return { words: text.split(/\s+/).filter(Boolean).length, upper: text.toUpperCase() };
});
