import { type EventMap, EXEC_WINDOW_BYTES } from "@skiff/protocol";
import type { Client } from "skiff";

/**
 * This terminal, relayed to a command in a container (`skiff container exec`, `skiff shell`).
 * With a terminal on both ends it goes raw: every key (Ctrl-C included) goes to the remote
 * pseudo-terminal, which echoes and edits lines itself, and window size changes follow.
 * Without one, stdin and stdout are plain pipes (`--cmd`, scripts), stdin's end closes the
 * command's. Both directions use exec.ack credit, so neither side buffers without bound.
 *
 * Resolves with the exit status to end with: the command's, 128 + a signal's number, or 1 when
 * it could not run (the reason is printed).
 */
export async function relayTerminal(
  client: Client,
  start: (tty: { tty: boolean; rows?: number; cols?: number; term?: string }) => Promise<{ execId: string }>,
): Promise<number> {
  const conn = client._connection;
  const stdin = process.stdin;
  const stdout = process.stdout;
  const tty = Boolean(stdin.isTTY && stdout.isTTY);
  let execId: string | undefined;
  // Events may arrive before start() resolves: the first ones wait here (bounded by the window).
  const early: { name: "exec.output" | "exec.exit" | "exec.ack"; body: unknown }[] = [];
  let inFlight = 0; // input bytes sent, not yet written to the command
  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => {
    done = r;
  });

  const onOutput = (m: EventMap["exec.output"]) => {
    const out = m.stream === "stderr" ? process.stderr : stdout;
    const n = m.data.byteLength;
    out.write(m.data, () => conn.emit("exec.ack", { execId: m.execId, bytes: n }));
  };
  const onExit = (m: EventMap["exec.exit"]) => {
    if (m.error) process.stderr.write(`skiff: ${m.error}\n`);
    const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
    done(m.code ?? (m.signal ? 128 + (signals[m.signal] ?? 0) : 1));
  };
  const onAck = (m: EventMap["exec.ack"]) => {
    inFlight = Math.max(0, inFlight - m.bytes);
    if (inFlight < EXEC_WINDOW_BYTES && stdin.isPaused()) stdin.resume();
  };
  const route = (name: "exec.output" | "exec.exit" | "exec.ack", body: { execId: string }) => {
    if (execId === undefined) {
      early.push({ name, body });
      return;
    }
    if (body.execId !== execId) return;
    if (name === "exec.output") onOutput(body as EventMap["exec.output"]);
    else if (name === "exec.exit") onExit(body as EventMap["exec.exit"]);
    else onAck(body as EventMap["exec.ack"]);
  };
  conn.on("exec.output", (b) => route("exec.output", b));
  conn.on("exec.exit", (b) => route("exec.exit", b));
  conn.on("exec.ack", (b) => route("exec.ack", b));
  const release = conn.hold();
  const lost = new Promise<number>((r) => {
    const off = conn.onDisconnect((err) => {
      off();
      process.stderr.write(`skiff: lost the connection to the server (${err.message})\n`);
      r(1);
    });
  });

  const size = () => ({ rows: stdout.rows || 24, cols: stdout.columns || 80 });
  const res = await start({ tty, ...(tty ? { ...size(), term: process.env.TERM ?? "xterm-256color" } : {}) });
  execId = res.execId;
  for (const e of early.splice(0)) route(e.name, e.body as { execId: string });

  const onData = (chunk: Buffer) => {
    inFlight += chunk.byteLength;
    conn.emit("exec.input", { execId: res.execId, data: new Uint8Array(chunk) });
    if (inFlight >= EXEC_WINDOW_BYTES) stdin.pause();
  };
  const onEnd = () => conn.emit("exec.input", { execId: res.execId, eof: true });
  const onResize = () => conn.emit("exec.resize", { execId: res.execId, ...size() });
  if (tty) {
    stdin.setRawMode(true);
    stdout.on("resize", onResize);
  }
  stdin.on("data", onData);
  stdin.on("end", onEnd);
  stdin.resume();
  try {
    return await Promise.race([finished, lost]);
  } finally {
    stdin.off("data", onData);
    stdin.off("end", onEnd);
    stdout.off("resize", onResize);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
    release();
  }
}
