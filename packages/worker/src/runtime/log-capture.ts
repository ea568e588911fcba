import type { LogWire } from "@skiff/protocol";
import { inputStorage } from "./input-context.js";

/** Longest single log text sent; longer writes are cut (bounded memory). */
const MAX_TEXT = 64 * 1024;

/**
 * Routes the process's stdout/stderr writes to the control plane, each tagged with the
 * input that wrote it, instead of the pipe the provider reads.
 */
export function captureOutput(send: (item: LogWire) => void, connected: () => boolean): void {
  for (const stream of ["stdout", "stderr"] as const) {
    const target = process[stream];
    const original = target.write.bind(target);
    target.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
      // Before the connection is up (or after it is gone), the provider's pipe is the only way out.
      if (!connected()) return original(chunk as string, encoding as BufferEncoding, cb as () => void);
      let text =
        typeof chunk === "string"
          ? chunk
          : Buffer.from(chunk as Uint8Array).toString(
              (typeof encoding === "string" ? encoding : "utf8") as BufferEncoding,
            );
      if (text.length > MAX_TEXT) text = `${text.slice(0, MAX_TEXT)}… [truncated]`;
      const inputId = inputStorage.getStore()?.id;
      send({ stream, text, ts: Date.now(), ...(inputId ? { inputId } : {}) });
      const done = typeof encoding === "function" ? encoding : cb;
      if (typeof done === "function") queueMicrotask(() => (done as () => void)());
      return true;
    }) as typeof target.write;
  }
}
