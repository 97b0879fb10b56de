/**
 * Splitting a report's period between the daily roll-ups and the raw rows. The roll-ups
 * (src/db/schema/rollups.ts) hold whole UTC days; a period that starts or ends inside a day
 * reads that partial day from the raw rows, so the answer is the same as summing raw rows alone.
 */
import { type SQL, sql } from "drizzle-orm";

const DAY_MS = 86_400_000;

export interface Instants {
  from: Date;
  to: Date;
}

export interface DaySplit {
  /** Whole UTC days inside [from, to) as `YYYY-MM-DD`, `first` included and `end` not; null when there is none. */
  days: { first: string; end: string } | null;
  /** What is left of [from, to) outside those days: none, one or two partial days' ranges. */
  edges: Instants[];
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** [from, to) as whole UTC days in the middle and the partial days at either end. */
export function splitByUtcDay(period: Instants): DaySplit {
  const from = period.from.getTime();
  const to = period.to.getTime();
  const firstMidnight = Math.ceil(from / DAY_MS) * DAY_MS;
  const lastMidnight = Math.floor(to / DAY_MS) * DAY_MS;
  if (firstMidnight >= lastMidnight) return { days: null, edges: [period] };
  const edges: Instants[] = [];
  if (from < firstMidnight) edges.push({ from: period.from, to: new Date(firstMidnight) });
  if (lastMidnight < to) edges.push({ from: new Date(lastMidnight), to: period.to });
  return { days: { first: isoDay(firstMidnight), end: isoDay(lastMidnight) }, edges };
}

/** `column` (a timestamptz) falls in one of the split's partial days; `false` when there are none. */
export function inEdges(column: SQL, split: DaySplit): SQL {
  if (split.edges.length === 0) return sql`false`;
  const ranges = split.edges.map((edge) => sql`(${column} >= ${edge.from.toISOString()}::timestamptz AND ${column} < ${edge.to.toISOString()}::timestamptz)`);
  return sql`(${sql.join(ranges, sql` OR `)})`;
}

/** `column` (a roll-up's date) is one of the split's whole days; `false` when there are none. */
export function inWholeDays(column: SQL, split: DaySplit): SQL {
  if (!split.days) return sql`false`;
  return sql`(${column} >= ${split.days.first}::date AND ${column} < ${split.days.end}::date)`;
}
