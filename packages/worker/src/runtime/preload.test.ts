import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  decodeFrame,
  encodeFrame,
  FRAME_FINAL,
  FRAMED_PREAMBLE,
  FrameReader,
  frameHeader,
  type Message,
} from "@skiff/protocol";

const RUNTIME = fileURLToPath(new URL("../../dist/runtime/main.js", import.meta.url));
/** An app whose import says so on stdout (before the runtime connects, its pipe is the way out). */
const BUNDLE = new TextEncoder().encode(
  'import { App } from "skiff";\nprocess.stdout.write("imported\\n");\nexport const app = new App("pre");\nexport const f = app.function(async (x) => x);\n',
);
const ASSIGN = {
  appId: "ap-1",
  appName: "pre",
  functionId: "fu-1",
  functionName: "f",
  bundleBlobId: "bl-pre",
  maxInputs: 1,
  appFunctions: [{ functionId: "fu-1", appId: "ap-1", appName: "pre", name: "f", isGenerator: false }],
};

/**
 * A runtime given its container on stdin (as the local provider does) against a control
 * socket of the test's own: the runtime's hello is answered only once `answerHello` says so.
 * Resolves with what happened, in order, once the runtime says it is ready.
 */
async function runContainer(
  preload: boolean,
  answerHello: (stdout: () => string) => Promise<void>,
  sendBundle: boolean,
): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-preload-"));
  const path = join(dir, "control.sock");
  mkdirSync(join(dir, "work"));
  const seen: string[] = [];
  let out = "";
  const send = (sock: Socket, msgs: Message[]) => {
    const f = encodeFrame(msgs);
    sock.write(frameHeader(FRAME_FINAL, f.byteLength));
    sock.write(f);
  };
  let done: (v: string[]) => void = () => {};
  const finished = new Promise<string[]>((r) => (done = r));
  const server = createServer((sock) => {
    let head = 0;
    const reader = new FrameReader(
      {
        message: (data) => {
          for (const m of decodeFrame(data) as (Message & { id?: number })[]) {
            // What the app printed once connected: not part of the order checked here.
            if (m.t === "logs") continue;
            seen.push(`server got ${m.t}`);
            if (m.t === "hello")
              void answerHello(() => out).then(() => {
                seen.push(`hello answered${out.includes("imported") ? " (imported already)" : ""}`);
                send(sock, [{ t: "reply", id: m.id!, ok: true, r: {} } as Message]);
                send(sock, [
                  { t: "container.assign", b: sendBundle ? { ...ASSIGN, bundle: BUNDLE } : ASSIGN } as Message,
                ]);
              });
            if (m.t === "container.ready" || m.t === "container.init_failed") done(seen);
          }
        },
        close: () => sock.destroy(),
      },
      1 << 20,
    );
    sock.on("error", () => {});
    sock.on("data", (chunk: Buffer) => {
      // The stream opens with its preamble.
      const skip = Math.min(FRAMED_PREAMBLE.byteLength - head, chunk.byteLength);
      head += skip;
      if (chunk.byteLength > skip) reader.push(chunk.subarray(skip));
    });
  });
  await new Promise<void>((r) => server.listen(path, () => r()));
  const child = spawn(process.execPath, [RUNTIME], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      SKIFF_ASSIGN_VIA_STDIN: "1",
      SKIFF_CONTROL_SOCKET: path,
      SKIFF_CONTROL_FRAMED: "1",
      SKIFF_WORKDIR: join(dir, "work"),
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (t: string) => (out += t));
  child.stderr.setEncoding("utf8").on("data", (t: string) => (err += t));
  const bundle = {
    blobId: "bl-pre",
    b64: Buffer.from(BUNDLE).toString("base64"),
    ...(preload ? { preload: true } : {}),
  };
  const env = { SKIFF_CONTAINER_ID: "ct-pre", SKIFF_CONTAINER_TOKEN: "tk-pre:secret", SKIFF_ENVIRONMENT: "main" };
  child.stdin.end(`${JSON.stringify({ env, bundle })}\n`);
  const timer = setTimeout(() => done([...seen, `timed out; stderr: ${err}`]), 20_000);
  try {
    return await finished;
  } finally {
    clearTimeout(timer);
    child.kill("SIGKILL");
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until `stdout()` holds "imported", 10 s at most. */
async function untilImported(stdout: () => string): Promise<void> {
  for (let i = 0; i < 1000 && !stdout().includes("imported"); i++) await new Promise((r) => setTimeout(r, 10));
}

it("a bundle handed over to preload is imported while the connection's hello waits, and is not needed again from the server", async () => {
  const seen = await runContainer(true, untilImported, false);
  assert.deepEqual(seen, ["server got hello", "hello answered (imported already)", "server got container.ready"]);
});

it("without preload (a worker's container, a shell), the bundle is imported only once the server's assignment comes", async () => {
  // The hello is held a while: an import that started early would show meanwhile.
  const seen = await runContainer(false, () => new Promise((r) => setTimeout(r, 1000)), false);
  assert.deepEqual(seen, ["server got hello", "hello answered", "server got container.ready"]);
  // And one the server sends in its assignment is the one loaded.
  const sent = await runContainer(false, () => Promise.resolve(), true);
  assert.deepEqual(sent, ["server got hello", "hello answered", "server got container.ready"]);
});
