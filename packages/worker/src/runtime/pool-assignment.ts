import { warmHandshake } from "./warm-handshake.js";
import { warmBundleLoad } from "./warm-load.js";

/**
 * The runtime waits here, with its modules already loaded, until the provider hands it a
 * container over stdin: one JSON line with the container's env (credentials and secrets, kept
 * out of /proc/<pid>/environ). Pre-started ("pooled") runtimes wait long; a scale-up then pays
 * only for loading the bundle, not for starting a process.
 */
/**
 * The bundle handed over with the assignment: a remote worker's (fetched by content id and
 * verified), or the control plane's own for a small one. `preload`: load it at once (main.ts).
 */
export let assignedBundle: { blobId: string; bytes: Uint8Array; preload: boolean } | undefined;

export async function awaitPoolAssignment(): Promise<void> {
  if (!process.env.SKIFF_ASSIGN_VIA_STDIN) return;
  const pooled = process.env.SKIFF_POOLED === "1";
  delete process.env.SKIFF_ASSIGN_VIA_STDIN;
  delete process.env.SKIFF_POOLED;
  let assigned = false;
  const line = new Promise<string>((resolve) => {
    let buf = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk: string) => {
      if (assigned) return;
      // Only the new chunk is searched: a line with a bundle in it comes in many chunks.
      const nl = chunk.indexOf("\n");
      if (nl < 0) {
        buf += chunk;
        return;
      }
      assigned = true;
      resolve(buf + chunk.slice(0, nl));
    });
    // The provider went away before using this process.
    process.stdin.on("end", () => process.exit(0));
  });
  if (pooled) {
    // A turn of the event loop reads what stdin holds already: a pooled runtime taken while it
    // was still starting (each start of a burst takes the one started as the last refill) has
    // its container waiting and connects for real at once. Only an idle one warms the
    // connection's transport (~30 ms of CPU, bench/start-cost.ts), and stops waiting for that
    // warm-up when its container comes.
    await new Promise((r) => setImmediate(r));
    // With the framed stream there is no handshake to warm (and `ws` is never loaded); the
    // bundle's load is warmed either way (warm-load.ts).
    if (!assigned) {
      const warm = process.env.SKIFF_CONTROL_FRAMED === "1" ? warmBundleLoad() : warmHandshake().then(warmBundleLoad);
      await Promise.race([warm, line]);
    }
  }
  const text = await line;
  process.stdin.pause();
  const { env, bundle } = JSON.parse(text) as {
    env: Record<string, string>;
    bundle?: { blobId: string; b64: string; preload?: boolean };
  };
  Object.assign(process.env, env);
  if (bundle)
    assignedBundle = {
      blobId: bundle.blobId,
      bytes: Buffer.from(bundle.b64, "base64"),
      preload: bundle.preload === true,
    };
}
