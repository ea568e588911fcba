// The app of bench/objects-volume.ts: writes a file into a mounted Volume, commits, reads it back.
import { open } from "node:fs/promises";
import { App, Volume } from "skiff";

export const app = new App("bench-volume");
const vol = Volume.fromName("bench-volume", { createIfMissing: true });

export const writeRead = app.function({ volumes: { "/data": vol }, timeoutMs: 900_000 }, async (mib: number) => {
  const chunk = Buffer.alloc(1024 * 1024, 7);
  let t = performance.now();
  const fh = await open("/data/big.bin", "w");
  for (let i = 0; i < mib; i++) await fh.write(chunk);
  await fh.sync();
  await fh.close();
  const writeMs = performance.now() - t;
  t = performance.now();
  await vol.commit();
  const commitMs = performance.now() - t;
  t = performance.now();
  const rd = await open("/data/big.bin", "r");
  const buf = Buffer.alloc(1024 * 1024);
  let n = 0;
  for (;;) {
    const { bytesRead } = await rd.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  await rd.close();
  const readMs = performance.now() - t;
  if (n !== mib * 1024 * 1024) throw new Error(`read ${n} bytes`);
  return { writeMs, commitMs, readMs };
});
