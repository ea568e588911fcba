import { WEB_BODY_WINDOW_BYTES } from "@skiff/protocol";

/** How the container asks for more of a request body (set by the runtime). */
export type BodyPullSender = (m: { callId: string; inputId: string; bytes: number }) => void;

let sendPull: BodyPullSender | undefined;

/** Request bodies being received, by input id. */
const open = new Map<string, IncomingBody>();

/**
 * One streamed request body. The control plane sends only what the container asked for, so
 * at most WEB_BODY_WINDOW_BYTES wait here: more is asked for as the handler reads.
 */
class IncomingBody {
  private readonly chunks: Uint8Array[] = [];
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  /** Bytes the handler took since the last pull. */
  private taken = 0;

  constructor(
    private readonly callId: string,
    private readonly inputId: string,
  ) {}

  start(): void {
    sendPull?.({ callId: this.callId, inputId: this.inputId, bytes: WEB_BODY_WINDOW_BYTES });
  }

  deliver(chunks: Uint8Array[], end: boolean | undefined, error: string | undefined): void {
    this.chunks.push(...chunks);
    if (end) this.ended = true;
    if (error) this.error = new Error(`the request body broke off: ${error}`);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const c = this.chunks.shift();
      if (c) {
        this.taken += c.byteLength;
        // Ask for more once half the window is used: the next chunks arrive while these are read.
        if (this.taken >= WEB_BODY_WINDOW_BYTES / 2 && !this.ended) {
          sendPull?.({ callId: this.callId, inputId: this.inputId, bytes: this.taken });
          this.taken = 0;
        }
        return c;
      }
      if (this.error) throw this.error;
      if (this.ended) return undefined;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }
}

/** Used by the container runtime: how pulls reach the control plane. */
export function _setWebBodyPullSender(fn: BodyPullSender): void {
  sendPull = fn;
}

/** Used by the container runtime: body chunks that arrived for an input. */
export function _deliverWebBody(b: { inputId: string; chunks: Uint8Array[]; end?: boolean; error?: string }): void {
  open.get(b.inputId)?.deliver(b.chunks, b.end, b.error);
}

/** Opens the streamed body of the running web input as a byte stream; closed with the input. */
export function openRequestBody(callId: string, inputId: string, signal: AbortSignal): ReadableStream<Uint8Array> {
  const body = new IncomingBody(callId, inputId);
  open.set(inputId, body);
  const close = () => open.delete(inputId);
  signal.addEventListener("abort", close, { once: true });
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          body.start();
        }
        try {
          const c = await body.next();
          if (c) controller.enqueue(c);
          else {
            close();
            controller.close();
          }
        } catch (err) {
          close();
          controller.error(err);
        }
      },
      cancel() {
        close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** The web input is over: forget its body (the handler may not have read it all). */
export function closeRequestBody(inputId: string): void {
  open.delete(inputId);
}
