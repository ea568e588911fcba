/**
 * The runtime waits here, with its modules already loaded, until the provider hands it a
 * container over stdin: one JSON line with the container's env (credentials and secrets, kept
 * out of /proc/<pid>/environ). Pre-started ("pooled") runtimes wait long; a scale-up then pays
 * only for loading the bundle, not for starting a process.
 */
export async function awaitPoolAssignment(): Promise<void> {
  if (!process.env.SKIFF_ASSIGN_VIA_STDIN) return;
  delete process.env.SKIFF_ASSIGN_VIA_STDIN;
  const { WebSocket } = await import("ws"); // the connection's transport, loaded while idle
  await warmConnect(WebSocket);
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
  const { env } = JSON.parse(line) as { env: Record<string, string> };
  Object.assign(process.env, env);
}

/**
 * Opens and closes one WebSocket to the control socket while idle: a process's first
 * handshake runs code that has never run (HTTP client, upgrade, framing), which takes 10–20 ms
 * more than the next one; paid here, it is not paid on the way to the container's first input.
 * It sends nothing (no hello, so it is no session) and gives up quietly.
 */
async function warmConnect(WebSocket: typeof import("ws").WebSocket): Promise<void> {
  const socket = process.env.SKIFF_CONTROL_SOCKET;
  if (!socket) return;
  await new Promise<void>((resolve) => {
    const ws = new WebSocket(`ws+unix://${socket}:/`, { perMessageDeflate: false });
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      ws.terminate();
      done();
    }, 2000);
    ws.on("open", () => ws.close(1000));
    ws.on("close", done);
    ws.on("error", done);
  });
}
