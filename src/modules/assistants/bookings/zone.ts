/**
 * Time-zone arithmetic for the booking rules, on `Intl.DateTimeFormat` alone (full ICU in workerd
 * and Node). The zone's UTC offset is read at an instant; a local day is cut into segments of
 * constant offset by locating the transitions around it; a wall-clock range then maps to real
 * instants segment by segment, which handles spring-forward gaps and fall-back overlaps without
 * guessing.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** One stretch of real time during which the zone's offset does not change. */
export interface OffsetSegment {
  /** First instant (epoch ms, inclusive). */
  from: number;
  /** End (epoch ms, exclusive). */
  to: number;
  /** Local wall clock minus UTC, in ms. */
  offset: number;
}

/** A wall-clock reading: calendar fields of the zone's clock at one instant. */
export interface WallClock {
  /** YYYY-MM-DD */
  date: string;
  hour: number;
  minute: number;
}

// A cache keyed by zone name: correct for any caller, so safe at module scope.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for an unknown zone.
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's wall clock at `ms`, as a "local epoch": the UTC epoch of the same calendar fields. */
function localEpoch(timeZone: string, ms: number): number {
  const fields: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  const hour = fields.hour === 24 ? 0 : (fields.hour ?? 0);
  return Date.UTC(fields.year ?? 1970, (fields.month ?? 1) - 1, fields.day ?? 1, hour, fields.minute ?? 0, fields.second ?? 0);
}

/** The zone's offset (local minus UTC, ms) at the instant `ms`. */
export function offsetAt(timeZone: string, ms: number): number {
  const whole = ms - (((ms % 1000) + 1000) % 1000);
  return localEpoch(timeZone, whole) - whole;
}

/** The zone's wall clock at an instant. */
export function wallClock(timeZone: string, at: Date | number): WallClock {
  const ms = typeof at === "number" ? at : at.getTime();
  const local = new Date(ms + offsetAt(timeZone, ms));
  return { date: local.toISOString().slice(0, 10), hour: local.getUTCHours(), minute: local.getUTCMinutes() };
}

/** The local epoch (ms) of local midnight starting `date` (YYYY-MM-DD, assumed valid). */
export function localMidnight(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
}

/** Whether `date` is a real calendar date written YYYY-MM-DD. */
export function isIsoDate(date: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return false;
  return new Date(localMidnight(date)).toISOString().slice(0, 10) === date;
}

/** `date` plus `days` calendar days (YYYY-MM-DD). */
export function addDays(date: string, days: number): string {
  return new Date(localMidnight(date) + days * DAY).toISOString().slice(0, 10);
}

/** Whole calendar days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((localMidnight(to) - localMidnight(from)) / DAY);
}

/** 0 = Sunday … 6 = Saturday, of a calendar date (no zone involved). */
export function weekdayIndex(date: string): number {
  return new Date(localMidnight(date)).getUTCDay();
}

// Offsets lie within -12h..+14h, so every instant whose wall clock reads local date D lies in
// [midnight(D) - 14h, midnight(D) + 24h + 12h]; a margin makes it safe.
const WINDOW_BEFORE = 15 * HOUR;
const WINDOW_AFTER = 24 * HOUR + 15 * HOUR;
// Transitions are months apart; two within one probe step never happen, so equal offsets at both
// ends of a step mean no transition inside it.
const PROBE_STEP = 6 * HOUR;

/**
 * The zone's constant-offset segments covering every instant whose wall clock can read local date
 * `date`, in time order; the first starts and the last ends at the window's edge.
 */
export function offsetSegments(timeZone: string, date: string): OffsetSegment[] {
  const start = localMidnight(date) - WINDOW_BEFORE;
  const end = localMidnight(date) + WINDOW_AFTER;
  const segments: OffsetSegment[] = [];
  let from = start;
  let offset = offsetAt(timeZone, start);
  let probe = start;
  while (probe < end) {
    const next = Math.min(probe + PROBE_STEP, end);
    const nextOffset = offsetAt(timeZone, next);
    if (nextOffset !== offset) {
      // Binary search, to the second, for the first instant with the new offset.
      let lo = probe; // old offset
      let hi = next; // new offset
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (offsetAt(timeZone, mid) === offset) lo = mid;
        else hi = mid;
      }
      segments.push({ from, to: hi, offset });
      from = hi;
      offset = nextOffset;
    }
    probe = next;
  }
  segments.push({ from, to: end, offset });
  return segments;
}

/**
 * The real-time intervals (epoch ms, `[start, end)`) during which the zone's wall clock on local
 * date `date` reads a time in `[startMinute, endMinute)` (minutes after local midnight; 1440 is the
 * next local midnight). Normally one interval; on a fall-back night a range that begins or ends
 * inside the repeated hour can give two, because the clock leaves the range and comes back.
 * Wall times inside a spring-forward gap are never read, so they contribute nothing.
 */
export function wallRangeIntervals(
  timeZone: string,
  date: string,
  startMinute: number,
  endMinute: number,
  segments: OffsetSegment[] = offsetSegments(timeZone, date),
): [number, number][] {
  const wallStart = localMidnight(date) + startMinute * MINUTE;
  const wallEnd = localMidnight(date) + endMinute * MINUTE;
  const intervals: [number, number][] = [];
  for (const seg of segments) {
    const lo = Math.max(seg.from, wallStart - seg.offset);
    const hi = Math.min(seg.to, wallEnd - seg.offset);
    if (lo >= hi) continue;
    const last = intervals[intervals.length - 1];
    if (last && last[1] === lo) last[1] = hi;
    else intervals.push([lo, hi]);
  }
  return intervals;
}
