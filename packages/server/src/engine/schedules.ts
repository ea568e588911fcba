import { encodePayload, type FunctionSpec } from "@skiff/protocol";
import { Cron } from "croner";

export interface ScheduleTarget {
  functionId: string;
  appName: string;
  spec: FunctionSpec;
}

/**
 * Runs deployed functions on their `schedule`: each fire spawns a call with no arguments.
 * The idempotency key names the function and the fire time, so a fire is never run twice.
 */
export class Schedules {
  private readonly jobs = new Map<string, { stop(): void; key: string }>();

  constructor(
    private readonly spawn: (functionId: string, args: Uint8Array, idempotencyKey: string) => void,
    private readonly log: (msg: string) => void,
  ) {}

  /** Starts, replaces or stops the schedule of one function to match its spec. */
  sync(t: ScheduleTarget): void {
    const s = t.spec.options.schedule;
    const key = s ? JSON.stringify(s) : "";
    const current = this.jobs.get(t.functionId);
    if (current?.key === key) return;
    current?.stop();
    this.jobs.delete(t.functionId);
    if (!s) return;
    const fire = (at: number) => {
      try {
        this.spawn(t.functionId, encodePayload([], "args"), `schedule-${t.functionId}-${at}`);
      } catch (err) {
        this.log(`scheduled run of ${t.appName}.${t.spec.name} failed to start: ${(err as Error).message}`);
      }
    };
    if (s.kind === "period") {
      const timer = setInterval(() => fire(Math.floor(Date.now() / s.periodMs) * s.periodMs), s.periodMs);
      timer.unref();
      this.jobs.set(t.functionId, { key, stop: () => clearInterval(timer) });
    } else {
      const job = new Cron(
        s.expression,
        { ...(s.timezone ? { timezone: s.timezone } : { timezone: "UTC" }), unref: true },
        () => fire(Math.floor(Date.now() / 1000) * 1000),
      );
      this.jobs.set(t.functionId, { key, stop: () => job.stop() });
    }
  }

  stop(functionId: string): void {
    this.jobs.get(functionId)?.stop();
    this.jobs.delete(functionId);
  }

  close(): void {
    for (const j of this.jobs.values()) j.stop();
    this.jobs.clear();
  }
}
