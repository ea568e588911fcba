/**
 * A worker thread of a container running inputs on threads (`concurrency.threads`). It loads
 * the same bundle as the main thread, so module state and per-thread setup are its own, and
 * runs the inputs the main thread hands it, one at a time.
 */
import { parentPort, workerData } from "node:worker_threads";
import { decodePayload, encodePayload, INLINE_PAYLOAD_BYTES, type ResultWire } from "@skiff/protocol";
import { Client, resolveApps } from "skiff";
import { inputStorage, installInputContext } from "./input-context.js";
import { encodeError, RunningInputContext } from "./runner.js";
import { loadTarget, type Target } from "./target.js";

export interface ThreadData {
  bundleUrl: string;
  appName: string;
  functionName: string;
  appFunctions: import("@skiff/protocol").FunctionInfo[];
  /** A class instance's parameters (CBOR). */
  params?: Uint8Array;
  serverUrl: string;
  tokenId: string;
  tokenSecret: string;
  environment: string;
}

export type ToThread =
  | { t: "run"; inputId: string; callId: string; attempt: number; args: Uint8Array; method?: string | undefined }
  | { t: "cancel"; inputId: string; reason: string }
  | { t: "exit" };

export type FromThread =
  | { t: "ready" }
  | { t: "init_failed"; error: Uint8Array }
  | { t: "done"; inputId: string; result: ResultWire }
  | { t: "exited" };

const data = workerData as ThreadData;
const port = parentPort!;
const running = new Map<string, RunningInputContext>();

async function main(): Promise<void> {
  installInputContext();
  // Calls made from this thread use a connection of its own, as the container's token.
  const client = new Client({
    serverUrl: data.serverUrl,
    tokenId: data.tokenId,
    tokenSecret: data.tokenSecret,
    environment: data.environment,
  });
  Client._setDefault(client);
  let target: Target;
  try {
    process.setSourceMapsEnabled(true); // stacks name the app's .ts files (see load-bundle.ts)
    const exports = (await import(data.bundleUrl)) as Record<string, unknown>;
    const app = resolveApps(exports).find((a) => a.name === data.appName);
    if (!app) throw new Error(`the bundle has no app ${data.appName}`);
    app._bind(client, data.appFunctions);
    target = loadTarget(app, data.functionName, data.params);
    await target.enter();
  } catch (err) {
    port.postMessage({ t: "init_failed", error: encodeError(err) } satisfies FromThread);
    return;
  }
  port.on("message", (m: ToThread) => {
    if (m.t === "cancel") {
      running.get(m.inputId)?.abort(new Error(`input ${m.reason}`));
      return;
    }
    if (m.t === "exit") {
      void target
        .exit()
        .catch((err: unknown) => console.error(err))
        .finally(() => port.postMessage({ t: "exited" } satisfies FromThread));
      return;
    }
    const ctx = new RunningInputContext(m.inputId, m.callId, m.attempt);
    running.set(m.inputId, ctx);
    void run(target, m, ctx).then((result) => {
      running.delete(m.inputId);
      port.postMessage({ t: "done", inputId: m.inputId, result } satisfies FromThread);
    });
  });
  port.postMessage({ t: "ready" } satisfies FromThread);
}

async function run(target: Target, m: Extract<ToThread, { t: "run" }>, ctx: RunningInputContext): Promise<ResultWire> {
  try {
    const args = decodePayload(m.args) as unknown[];
    const value = await inputStorage.run(ctx, () => target.invoke(m.method, args));
    const bytes = encodePayload(value, "result");
    if (bytes.byteLength > INLINE_PAYLOAD_BYTES)
      throw new Error("results over 1 MiB are not supported from threads yet");
    return { status: "success", data: bytes };
  } catch (err) {
    return { status: "failure", error: encodeError(err) };
  }
}

void main();
