import type { Worker } from "node:worker_threads";
import type { InputWire, ResultWire } from "@skiff/protocol";
import type { FromThread, ThreadData, ToThread } from "./thread-main.js";

const THREAD_ENTRY = new URL("./thread-main.js", import.meta.url);

interface Slot {
  worker: Worker;
  busy: string | undefined;
}

/**
 * The worker threads of a container with `concurrency.threads`: one per input slot, so N
 * CPU-bound inputs really run in parallel. The server never hands out more than maxInputs at
 * once, so a free thread always exists when an input arrives.
 */
export class ThreadPool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<string, (r: ResultWire) => void>();
  private readonly exited = new Map<Worker, () => void>();

  private constructor() {}

  /** Starts `size` threads and waits until each has loaded the bundle. Rejects with the first init error. */
  static async start(size: number, data: ThreadData): Promise<ThreadPool> {
    const pool = new ThreadPool();
    // Loaded here, not at the runtime's start: only functions with `concurrency.threads` use it.
    const { Worker } = await import("node:worker_threads");
    await Promise.all(
      Array.from({ length: size }, async () => {
        const worker = new Worker(THREAD_ENTRY, { workerData: data });
        const slot: Slot = { worker, busy: undefined };
        pool.slots.push(slot);
        await new Promise<void>((resolve, reject) => {
          worker.once("error", reject);
          worker.on("message", (m: FromThread) => {
            if (m.t === "ready") resolve();
            else if (m.t === "exited") pool.exited.get(worker)?.();
            else if (m.t === "init_failed")
              reject(Object.assign(new Error("thread init failed"), { encoded: m.error }));
            else {
              slot.busy = undefined;
              const done = pool.waiting.get(m.inputId);
              pool.waiting.delete(m.inputId);
              done?.(m.result);
            }
          });
        });
      }),
    );
    return pool;
  }

  run(wire: InputWire, args: Uint8Array): Promise<ResultWire> {
    const { inputId, callId, attempt, method } = wire;
    const slot = this.slots.find((s) => !s.busy);
    if (!slot)
      return Promise.resolve({
        status: "terminated",
        message: "no free thread for this input (more inputs than maxInputs)",
      });
    slot.busy = inputId;
    return new Promise((resolve) => {
      this.waiting.set(inputId, resolve);
      slot.worker.postMessage({ t: "run", inputId, callId, attempt, args, method } satisfies ToThread);
    });
  }

  /** Runs each thread's `@exit` hooks; resolves when all are done or `timeoutMs` passed. */
  async exit(timeoutMs: number): Promise<void> {
    const done = Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            this.exited.set(s.worker, resolve);
            s.worker.postMessage({ t: "exit" } satisfies ToThread);
          }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  cancel(inputId: string, reason: string): void {
    this.slots.find((s) => s.busy === inputId)?.worker.postMessage({ t: "cancel", inputId, reason } satisfies ToThread);
  }
}
