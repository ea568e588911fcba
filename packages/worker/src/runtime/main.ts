/**
 * The in-container runtime: connects to the control plane over its unix socket, loads the
 * app bundle it is given, runs inputs and reports outputs. One process per container.
 */
// First: an image container becomes its unprivileged user before anything else loads.
import "./drop-privileges.js";
import {
  type EventMap,
  GENERATOR_WINDOW,
  type InputWire,
  type LogWire,
  unpackPayloads,
  WEB_STREAM_WINDOW,
} from "@skiff/protocol";
import { Client, resolveApps } from "skiff";
import { _deliverWebBody, _setWebBodyPullSender, _webDirectOf, _webSpecOf, Connection } from "skiff/internal";
import { ExecHost } from "./exec.js";
import { installInputContext } from "./input-context.js";
import { loadBundle, skiffPackageDir } from "./load-bundle.js";
import { captureOutput } from "./log-capture.js";
import { assignedBundle, awaitPoolAssignment } from "./pool-assignment.js";
import { outputReporter } from "./report-outputs.js";
import { encodeError, InputRunner } from "./runner.js";
import { loadTarget, type Target } from "./target.js";
import { ThreadPool } from "./thread-pool.js";

await awaitPoolAssignment();

const env = process.env;
const containerId = env.SKIFF_CONTAINER_ID;
const token = env.SKIFF_CONTAINER_TOKEN ?? "";
const socketPath = env.SKIFF_CONTROL_SOCKET;
const workdir = env.SKIFF_WORKDIR ?? process.cwd();
if (!containerId || !socketPath || !token.includes(":")) {
  process.stderr.write(
    "skiff runtime: SKIFF_CONTAINER_ID, SKIFF_CONTAINER_TOKEN and SKIFF_CONTROL_SOCKET must be set\n",
  );
  process.exit(2);
}
const [tokenId, tokenSecret] = [token.slice(0, token.indexOf(":")), token.slice(token.indexOf(":") + 1)];
// User code sees only its own variables, not the container's credentials.
// The control socket of the server that started this runtime speaks the framed stream (a
// worker's relay, piped to the server's public port, only WebSocket).
const framed = env.SKIFF_CONTROL_FRAMED === "1";
for (const k of [
  "SKIFF_CONTAINER_TOKEN",
  "SKIFF_CONTAINER_ID",
  "SKIFF_CONTROL_SOCKET",
  "SKIFF_WORKDIR",
  "SKIFF_CONTROL_FRAMED",
])
  delete env[k];

const serverUrl = `unix:${socketPath}`;
// A container is started by the server, which is there: a slow answer means a busy server (a
// hundred containers starting at once), not a wrong one. The fleet's startup timeout decides
// when a container that never connects is given up, so its own connection waits that long.
const PATIENT = { connectTimeoutMs: 60_000, answerTimeoutMs: 60_000 };
const conn = new Connection({
  ...PATIENT,
  serverUrl,
  tokenId,
  tokenSecret,
  role: "container",
  containerId,
  keepAlive: true,
  reconnectTimeoutMs: 5000,
  framed,
});
const client = new Client({
  ...PATIENT,
  serverUrl,
  tokenId,
  tokenSecret,
  environment: env.SKIFF_ENVIRONMENT ?? "main",
  framed,
});
Client._setDefault(client);
installInputContext();

// Commands run in this container: `skiff container exec`, `skiff shell` (runtime/exec.ts).
const execs = new ExecHost((name, body) => conn.emit(name, body));

let runner: InputRunner | undefined;
/** "app.function", for messages. */
let what = "function";
let target: Target | undefined;
let pool: ThreadPool | undefined;

const reportOutput = outputReporter(conn);
let exiting = false;
const realExit = process.exit.bind(process);

/** Leaves after the last frame is out (outputs and logs go in the next tick). */
function exitSoon(code: number): void {
  if (exiting) return;
  exiting = true;
  execs.killAll();
  setTimeout(() => realExit(code), 50);
}

let connected = false;
captureOutput(
  (item: LogWire) => conn.emit("logs", { items: [item] }),
  () => connected,
);

// A function that calls process.exit fails its inputs with a clear error instead of
// vanishing; the container is then replaced.
process.exit = ((code?: number) => {
  runner?.failAll(new Error(`the function called process.exit(${code ?? ""}), which stops its container`));
  exitSoon(typeof code === "number" ? code : 0);
  return undefined as never;
}) as typeof process.exit;

process.on("uncaughtException", (err) => {
  runner?.failAll(err);
  exitSoon(1);
});
process.on("unhandledRejection", (err) => {
  runner?.failAll(err);
  exitSoon(1);
});

conn.on("exec.start", (m) => execs.start(m));
conn.on("exec.input", (m) => execs.input(m));
conn.on("exec.ack", (m) => execs.ack(m));
conn.on("exec.resize", (m) => execs.resize(m));
conn.on("exec.kill", (m) => execs.kill(m.execId));

conn.onClosed(() => {
  execs.killAll();
  realExit(3);
});
/** Volumes mounted read-write: committed on a clean exit (api.md §7). */
let volumes: { objectId: string; mountPath: string }[] = [];

conn.on("container.assign", (a: EventMap["container.assign"]) => {
  connected = true;
  volumes = a.volumes ?? [];
  void (async () => {
    try {
      if (a.shell) {
        // A container for `skiff shell`: its sandbox, env and secrets, and no function code.
        conn.emit("container.ready", {});
        return;
      }
      what = `${a.appName}.${a.functionName}`;
      // On a remote worker the bundle came from the worker's cache, not in the assignment; a
      // small one came with it from the control plane, and is loading already.
      const handed = assignedBundle?.blobId === a.bundleBlobId;
      const bytes = a.bundle ?? (handed ? assignedBundle?.bytes : undefined);
      if (!bytes) throw new Error(`the container was given no bundle (or not bundle ${a.bundleBlobId})`);
      const { exports, url } = await (handed && preloading
        ? preloading
        : loadBundle(workdir, bytes, skiffPackageDir()));
      const app = resolveApps(exports).find((x) => x.name === a.appName);
      if (!app) throw new Error(`the bundle defines no app named "${a.appName}"`);
      app._bind(client, a.appFunctions);
      const t = loadTarget(app, a.functionName, a.params);
      // Threads: asked for, or by default for a plain (non-async) function; only with several slots.
      const threaded = a.maxInputs > 1 && !t.generator && (a.threads ?? t.plain);
      if (threaded) {
        // Each thread loads the bundle and runs its own `@enter`.
        pool = await ThreadPool.start(a.maxInputs, {
          bundleUrl: url,
          appName: a.appName,
          functionName: a.functionName,
          appFunctions: a.appFunctions,
          ...(a.params ? { params: a.params } : {}),
          serverUrl,
          tokenId,
          tokenSecret,
          environment: env.SKIFF_ENVIRONMENT ?? "main",
        });
      } else await t.enter();
      target = t;
      // A web endpoint's response items are up to 64 KiB each: it streams with a smaller window.
      const fn = app._function(a.functionName);
      const web = Boolean(fn && _webSpecOf(fn));
      const webDirect = fn && _webDirectOf(fn);
      runner = new InputRunner(
        t,
        client,
        (out) => reportOutput(out),
        (inputId, attempt, items) => conn.emit("gen.items", { inputId, attempt, items }),
        {
          ...(pool ? { pool } : {}),
          window: web ? WEB_STREAM_WINDOW : GENERATOR_WINDOW,
          maxInputs: a.maxInputs,
          // A web endpoint yields the SDK's own response items: no need to check each one.
          trustedItems: web,
          // A webEndpoint's requests skip the generator pipeline (runner.ts runWeb).
          ...(webDirect ? { webDirect } : {}),
          // Its whole answer in one message, to a server that reads it (hot frames version 2).
          answerWeb: (seq, item, durationMs) => {
            if (conn.hotVersion < 2) return false;
            conn.emit("web.answer", { seq, item, durationMs });
            return true;
          },
        },
      );
      conn.emit("container.ready", {});
    } catch (err) {
      // A worker thread's init error arrives already encoded.
      const encoded = (err as { encoded?: Uint8Array }).encoded;
      conn.emit("container.init_failed", { error: encoded ?? encodeError(err) });
      exitSoon(1);
    }
  })();
});
conn.on("inputs", ({ items }) => {
  // The inputs of one batch arrive together, in one event, under one batch id.
  let batch: InputWire[] = [];
  const flush = () => {
    if (batch.length > 0) runner?.startBatch(batch, what);
    batch = [];
  };
  for (const wire of items) {
    if (wire.batchId === undefined) runner?.start(wire);
    else {
      if (batch.length > 0 && batch[0]!.batchId !== wire.batchId) flush();
      batch.push(wire);
    }
  }
  flush();
});
conn.on("inputs.cols", ({ groups }) => {
  for (const g of groups) {
    const { callId, timeoutMs, method, seq0, inputIds, attempts } = g;
    const args = unpackPayloads(g.args, inputIds.length);
    if (!args) {
      // Not a frame this server sends: a container lost is re-run elsewhere; one that ignored
      // its inputs would hold them until they time out.
      process.stderr.write("skiff runtime: inputs.cols with arguments that do not match its inputs\n");
      realExit(70);
      return;
    }
    for (let i = 0; i < args.length; i++) {
      const wire: InputWire = {
        inputId: inputIds[i]!,
        callId,
        attempt: attempts[i]!,
        args: args[i]!,
        timeoutMs,
        seq: seq0 + i,
      };
      if (method !== undefined) wire.method = method;
      runner?.start(wire);
    }
  }
});
conn.on("cancel", ({ inputIds, reason }) => runner?.cancel(inputIds, reason));
conn.on("inputs.revoke", ({ inputIds }) => {
  const items = runner?.revoke(inputIds) ?? [];
  if (items.length > 0) conn.emit("inputs.returned", { items });
});
conn.on("gen.ack", ({ inputId, consumed }) => {
  if (inputId) runner?.ack(inputId, consumed);
});
// Web endpoints pull their streamed request bodies with credit (docs/web.md).
_setWebBodyPullSender((m) => conn.emit("web.body.pull", m));
conn.on("web.body", (b) => _deliverWebBody(b));
conn.on("shutdown", ({ graceMs }) => {
  const deadline = Date.now() + graceMs;
  // `@exit` hooks run once the inputs are done, within what is left of the grace time.
  const runExitHooks = async () => {
    const left = Math.max(0, deadline - Date.now());
    try {
      if (pool) await pool.exit(left);
      else if (target) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([target.exit(), new Promise<void>((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
      }
    } catch (err) {
      console.error(err);
    }
    for (const v of volumes) {
      try {
        await client.request("volume.commit", { objectId: v.objectId });
      } catch (err) {
        console.error(`committing the volume at ${v.mountPath} on exit failed: ${(err as Error).message}`);
      }
    }
    exitSoon(0);
  };
  const check = () => {
    if (!runner || runner.busy === 0 || Date.now() >= deadline) void runExitHooks();
    else setTimeout(check, 20);
  };
  check();
});

// A bundle that came with the assignment to load at once (never a shell's) loads while the
// connection opens and says hello: its import (user code's top level, whose output goes out the
// provider's pipe until then) need not wait for the server's assignment, and starts first, as it
// takes longer than the hello's round trip. Its failure is reported when that assignment comes,
// as a load's that starts then.
const preloading =
  assignedBundle?.preload === true ? loadBundle(workdir, assignedBundle.bytes, skiffPackageDir()) : undefined;
preloading?.catch(() => {});

conn.connect().catch((err: Error) => {
  process.stderr.write(`skiff runtime: cannot reach the control plane: ${err.message}\n`);
  realExit(3);
});
