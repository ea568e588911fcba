import { checkParams } from "./check-params.js";
import { InvalidError } from "./errors.js";

/** Run a deployed function on a cron schedule (5 fields, UTC unless `timezone` is given). */
export class Cron {
  readonly kind = "cron" as const;
  constructor(
    readonly expression: string,
    readonly options: { timezone?: string } = {},
  ) {
    if (typeof expression !== "string" || expression.trim().split(/\s+/).length !== 5) {
      throw new InvalidError(
        `Cron: expected 5 fields ("minute hour day month weekday"), got ${JSON.stringify(expression)}`,
      );
    }
    checkParams("Cron", options, ["timezone"]);
  }
}

export interface PeriodParams {
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
}

/** Run a deployed function every fixed period. */
export class Period {
  readonly kind = "period" as const;
  readonly periodMs: number;
  constructor(params: PeriodParams) {
    const { days = 0, hours = 0, minutes = 0, seconds = 0 } = params;
    this.periodMs = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000;
    if (!(this.periodMs >= 1000)) throw new InvalidError("Period: must be at least one second");
  }
}

export type Schedule = Cron | Period;
