/**
 * Invoice periods are whole UTC days, half-open: [start, end). A month "2026-05" is
 * [2026-05-01, 2026-06-01), the same rule the events use for "occurred in the period".
 */
import { Unprocessable } from "../../../lib/errors";

export interface InvoicePeriod {
  /** First day, YYYY-MM-DD. */
  start: string;
  /** The day after the last, YYYY-MM-DD. */
  end: string;
}

export type PeriodInput = string | { from: string; to: string };

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
/** Longer than any month; a year of usage on one invoice is most likely a typo. */
const MAX_PERIOD_DAYS = 366;
const DAY_MS = 24 * 60 * 60 * 1000;

function isoDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** [first day of `month`, first day of the next month), for `YYYY-MM`. */
export function monthPeriod(month: string): InvoicePeriod {
  const match = MONTH.exec(month);
  if (!match) throw new Unprocessable([{ path: "period", message: "A month is YYYY-MM, e.g. 2026-05" }]);
  const year = Number(match[1]);
  const index = Number(match[2]) - 1;
  return { start: isoDay(new Date(Date.UTC(year, index, 1))), end: isoDay(new Date(Date.UTC(year, index + 1, 1))) };
}

/** The calendar month before the one `now` falls in (UTC), as `YYYY-MM`: what the run on the 1st bills. */
export function previousMonth(now: Date): string {
  return isoDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1))).slice(0, 7);
}

/** A month, or explicit days (`to` exclusive), checked: the period has at least one day and at most a year. */
export function parsePeriod(input: PeriodInput): InvoicePeriod {
  if (typeof input === "string") return monthPeriod(input);
  const days = (Date.parse(`${input.to}T00:00:00Z`) - Date.parse(`${input.from}T00:00:00Z`)) / DAY_MS;
  if (!(days >= 1)) throw new Unprocessable([{ path: "period.to", message: "`to` must be after `from` (it is the first day after the period)" }]);
  if (days > MAX_PERIOD_DAYS) throw new Unprocessable([{ path: "period.to", message: `A period is at most ${MAX_PERIOD_DAYS} days` }]);
  return { start: input.from, end: input.to };
}

/** The instants the period covers, [start 00:00 UTC, end 00:00 UTC). */
export function periodBounds(period: InvoicePeriod): { from: Date; to: Date } {
  return { from: new Date(`${period.start}T00:00:00.000Z`), to: new Date(`${period.end}T00:00:00.000Z`) };
}
