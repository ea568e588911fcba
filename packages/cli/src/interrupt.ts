import { ui } from "./output.js";

/** Thrown once an interrupted command has cleaned up: exits 130, as a shell expects of Ctrl-C. */
export class Interrupted extends Error {
  readonly exitCode = 130;
  constructor() {
    super("interrupted");
    this.name = "Interrupted";
  }
}

export interface Interrupt {
  /** Resolves on the first Ctrl-C (or SIGTERM). */
  readonly signal: Promise<void>;
  readonly fired: boolean;
  /**
   * Restores the default handling (Ctrl-C ends the process). Once fired, the handler stays:
   * the command is on its way out, and a second Ctrl-C during the last of its cleanup still
   * exits 130 rather than dying by the signal.
   */
  dispose(): void;
}

/**
 * The first Ctrl-C asks the command to stop and clean up; a second one exits at once (the
 * exit hook of temp-dirs.ts still removes this process's temporary directories).
 */
export function onInterrupt(): Interrupt {
  let fired = false;
  let fire!: () => void;
  const signal = new Promise<void>((resolve) => {
    fire = resolve;
  });
  const handler = () => {
    if (fired) {
      process.exit(130);
    }
    fired = true;
    ui.info("stopping… (Ctrl-C again to exit now)");
    fire();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal,
    get fired() {
      return fired;
    },
    dispose() {
      if (fired) return;
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
