// Large payloads end to end: blobs travel in parts, and housekeeping deletes a blob once
// nothing refers to it (a `.remote` result once read, a `.spawn` result past retention).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BLOB_PART_BYTES } from "@skiff/protocol";
import { Function_ } from "skiff";
import { skiff, startServer, waitFor } from "./helpers/cli.js";

const MB60 = 60_000_000;

/** Blob files under the server's data dir, with their sizes. */
function blobFiles(dataDir: string): { id: string; size: number }[] {
  const root = join(dataDir, "blobs");
  const out: { id: string; size: number }[] = [];
  for (const shard of readdirSync(root)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const id of readdirSync(join(root, shard))) out.push({ id, size: statSync(join(root, shard, id)).size });
  }
  return out;
}

/** The server's peak resident memory so far (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

describe("blobs", () => {
  it("moves 60 MB results and args in parts, and deletes their blobs within a minute of their last use", async (t) => {
    const server = await startServer({ args: ["--result-retention-ms", "1000"] });
    try {
      assert.equal((await skiff(["deploy", "test/fixtures/core-app.ts"], { env: server.env })).code, 0);
      const client = server.client();
      const bytes = await Function_.lookup<Function_<(n: number) => Promise<Uint8Array>>>("core-app", "bytes", {
        client,
      });
      const echo = await Function_.lookup<Function_<(v: Uint8Array) => Promise<Uint8Array>>>("core-app", "echo", {
        client,
      });
      await bytes.remote(10); // containers up, the server warm
      const rssBefore = peakRss(server.proc.pid!);
      const viaRemote = await bytes.remote(MB60);
      assert.equal(viaRemote.byteLength, MB60);
      assert.ok(viaRemote.every((b) => b === 7));
      const spawned = await bytes.spawn(MB60);
      assert.equal(((await spawned.get()) as Uint8Array).byteLength, MB60);
      const big = new Uint8Array(MB60).fill(3);
      const echoed = await echo.remote(big); // 60 MB of args up, 60 MB of result down
      assert.equal(echoed.byteLength, MB60);
      assert.equal(echoed[MB60 - 1], 3);
      const rssGrowth = peakRss(server.proc.pid!) - rssBefore;
      // Not asserted: freed parts linger until a GC, so the peak says little about what is held.
      t.diagnostic(`server peak RSS grew ${(rssGrowth / 1e6).toFixed(1)} MB while moving 4 × 60 MB`);
      // The server takes blobs in parts only: one message never carries a whole large blob.
      await assert.rejects(
        client.request("blob.put", { data: new Uint8Array(BLOB_PART_BYTES + 1) }),
        /at most 4194304 bytes: send larger blobs in parts/,
      );
      const large = () => blobFiles(server.dataDir).filter((b) => b.size >= MB60);
      assert.ok(large().length >= 2, `large blobs on disk: ${JSON.stringify(large())}`);
      const since = Date.now();
      // Nothing refers to them now: the .remote results were read, the spawned one is past its
      // retention (1 s), the echoed args belonged to a finished call.
      // A delivered result stays referenced for 60 s (the engine resends it to a caller that
      // reconnects), then the next sweep (every 15 s) takes it: at most ~75 s, hence 100 s here.
      await waitFor(() => Promise.resolve(large().length === 0), "the 60 MB blobs to be deleted", 100_000);
      t.diagnostic(`large blobs gone ${((Date.now() - since) / 1000).toFixed(1)} s after their last use`);
    } finally {
      await server.stop();
    }
  });
});
