// Writes files to a Volume from a container, then `volume-reader.ts` (another app) reads them
// after reload(): `npx skiff run examples/objects/volume-writer.ts`, then the reader.
import { mkdir, writeFile } from "node:fs/promises";
import { App, Volume } from "skiff";

export const app = new App("volume-writer");
const reports = Volume.fromName("reports", { createIfMissing: true });

export const writeReport = app.function({ volumes: { "/reports": reports } }, async (day: string) => {
  await mkdir("/reports/daily", { recursive: true });
  await writeFile(`/reports/daily/${day}.txt`, `report for ${day}\n`);
  await reports.commit(); // visible to other containers after their reload()
  return `/daily/${day}.txt`;
});

app.localEntrypoint(async () => {
  console.log("wrote", await writeReport.remote(new Date().toISOString().slice(0, 10)));
});
