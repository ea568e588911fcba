import { warmHandshake } from "./warm-handshake.js";

/**
 * The runtime waits here, with its modules already loaded, until the provider hands it a
 * container over stdin: one JSON line with the container's env (credentials and secrets, kept
 * out of /proc/<pid>/environ). Pre-started ("pooled") runtimes wait long; a scale-up then pays
 * only for loading the bundle, not for starting a process.
 */
/** The bundle a remote worker handed over with the assignment (fetched by content id and verified). */
export let assignedBundle: { blobId: string; bytes: Uint8Array } | undefined;

export async function awaitPoolAssignment(): Promise<void> {
  if (!process.env.SKIFF_ASSIGN_VIA_STDIN) return;
  delete process.env.SKIFF_ASSIGN_VIA_STDIN;
  await warmHandshake(); // the connection's transport, loaded and run once while idle
  const line = await new Promise<string>((resolve) => {
    let buf = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    // The provider went away before using this process.
    process.stdin.on("end", () => process.exit(0));
  });
  process.stdin.pause();
  const { env, bundle } = JSON.parse(line) as { env: Record<string, string>; bundle?: { blobId: string; b64: string } };
  Object.assign(process.env, env);
  if (bundle) assignedBundle = { blobId: bundle.blobId, bytes: Buffer.from(bundle.b64, "base64") };
}
