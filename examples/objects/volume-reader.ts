// Reads what volume-writer.ts wrote, from a read-only mount after reload(), and from outside.
import { readdir, readFile } from "node:fs/promises";
import { App, Volume } from "skiff";

export const app = new App("volume-reader");
const reports = Volume.fromName("reports", { createIfMissing: true });

export const readReports = app.function({ volumes: { "/reports": reports.readOnly() } }, async () => {
  await reports.reload(); // the newest committed version
  const days = await readdir("/reports/daily").catch(() => []);
  return Promise.all(days.map((d) => readFile(`/reports/daily/${d}`, "utf8")));
});

app.localEntrypoint(async () => {
  console.log(await readReports.remote());
  // From outside a container: list and stream files.
  for (const entry of await reports.listFiles("/daily")) console.log(entry.path, entry.size, "bytes");
});
