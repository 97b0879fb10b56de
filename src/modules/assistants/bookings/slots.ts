/**
 * The pure slot and booking-window rules of an assistant's bookings: no HTTP, no database.
 *
 * ## How wall-clock hours become real instants (DST rule)
 *
 * A range `[start, end)` of `weeklyHours` on local date D is the set of real instants at which the
 * assistant's wall clock reads date D and a time in `[start, end)` ("24:00" = the next local
 * midnight). Offsets come from the zone's own rules on that date (`Intl`, IANA data), so half-hour
 * and 45-minute zones need nothing special.
 *
 * - Spring forward: wall times inside the gap never occur, so no slot starts there; a range that
 *   spans the gap is that much shorter in real time (01:00-04:00 on a New York spring-forward night
 *   lasts two real hours), and a range starting inside the gap begins when the clock jumps.
 * - Fall back: a range that covers the whole repeated hour (01:00-03:00 on a New York fall-back
 *   night) lasts one real hour longer (three) and gets slots in both occurrences of the hour. A
 *   range that begins or ends inside the repeated hour covers only the instants at which the clock
 *   really reads a time inside it, which can be two separate intervals (00:00-01:30 is 00:00-01:30
 *   EDT plus 01:00-01:30 EST).
 * - Slots are laid in real elapsed time from the start of each interval, every
 *   `slotDuration + bufferMinutes` minutes, while the slot fits inside the interval. Two slots
 *   never share a UTC start. After a transition inside an interval the labels follow elapsed time
 *   (a 45-minute grid from 01:00 EST reads 01:00, 01:45, 03:30 EDT), and in a repeated hour two
 *   slots can carry the same label: `times[].start` tells them apart.
 */
import { addDays, daysBetween, isIsoDate, type OffsetSegment, offsetSegments, wallClock, wallRangeIntervals, weekdayIndex } from "./zone";

export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

/** Opening ranges per weekday, `["09:00", "12:00"]`, "00:00".."24:00", sorted, non-overlapping (validated elsewhere). */
export type WeeklyHours = Partial<Record<Weekday, [string, string][]>>;

export interface BookingRules {
  /** IANA zone name, e.g. "America/New_York". */
  timezone: string;
  weeklyHours: WeeklyHours;
  /** Minutes per slot. */
  slotDuration: number;
  /** Minutes kept free after each slot (and around each existing booking). */
  bufferMinutes: number;
  /** A slot must start at least this many minutes after `now`. */
  minNoticeMinutes: number;
  /** Bookable local dates run from today to today + horizonDays, inclusive. */
  horizonDays: number;
  /** Local dates (YYYY-MM-DD) with no slots. */
  closedDates: string[];
}

/** An existing booking (UTC instants). */
export interface Busy {
  start: Date;
  end: Date;
}

export interface SlotTime {
  /** Local wall time, "09:00". */
  time: string;
  /** ISO UTC instant the slot starts. */
  start: string;
  /** ISO UTC instant the slot ends (start + slotDuration). */
  end: string;
}

export interface DaySlots {
  /** YYYY-MM-DD in the assistant's zone. */
  date: string;
  /** "Monday". */
  day: string;
  timezone: string;
  /** Free slots as local labels, "9:00 AM", in time order (same order as `times`). */
  slots: string[];
  /** "9:00 AM - 12:00 PM, 1:00 PM - 5:30 PM", or "Closed" (no hours that weekday, or a closed date). */
  business_hours: string;
  slot_duration: number;
  times: SlotTime[];
}

export type SlotStatus = "available" | "booked" | "unavailable";

/** A booking holding a range of time (UTC instants). */
export interface BookedInterval extends Busy {
  id: string;
}

export interface ScheduledSlot extends SlotTime {
  /** Local label, "9:00 AM". */
  label: string;
  status: SlotStatus;
  /** The booking holding a `booked` slot, else null. */
  booking_id: string | null;
}

/** One local date's whole slot grid and the state of each slot. */
export interface DaySchedule {
  date: string;
  day: string;
  business_hours: string;
  slots: ScheduledSlot[];
}

export type SlotsBetweenResult = { ok: true; days: DaySlots[] } | { ok: false; reason: "invalid_range" | "range_too_long"; message: string };

export type BookingRefusal = "outside_hours" | "closed_day" | "in_past" | "inside_notice" | "beyond_horizon" | "not_on_slot_boundary";

export type BookingCheck = { ok: true; end: Date } | { ok: false; reason: BookingRefusal; message: string };

/** The longest range `slotsBetween` answers, in local dates (inclusive). */
export const MAX_RANGE_DAYS = 31;

const MINUTE = 60_000;
const WEEKDAYS: Weekday[] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function parseHHMM(value: string): number {
  return Number(value.slice(0, 2)) * 60 + Number(value.slice(3, 5));
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** "9:00 AM", "12:30 PM", "12:00 AM" from hours (0-24) and minutes. */
function label(hour: number, minute: number): string {
  const h = hour % 24;
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return `${h12}:${pad2(minute)} ${h < 12 ? "AM" : "PM"}`;
}

function rangesOn(rules: BookingRules, date: string): [string, string][] {
  return rules.weeklyHours[WEEKDAYS[weekdayIndex(date)] as Weekday] ?? [];
}

function isClosed(rules: BookingRules, date: string): boolean {
  return rules.closedDates.includes(date) || rangesOn(rules, date).length === 0;
}

function businessHours(rules: BookingRules, date: string): string {
  if (isClosed(rules, date)) return "Closed";
  return rangesOn(rules, date)
    .map(([from, to]) => {
      const a = parseHHMM(from);
      const b = parseHHMM(to);
      return `${label(Math.floor(a / 60), a % 60)} - ${label(Math.floor(b / 60), b % 60)}`;
    })
    .join(", ");
}

/** Real-time intervals `[start, end)` (epoch ms) of every range on `date`, per range, in range order. */
function openIntervals(rules: BookingRules, date: string, segments: OffsetSegment[] = offsetSegments(rules.timezone, date)): [number, number][] {
  return rangesOn(rules, date).flatMap(([from, to]) => wallRangeIntervals(rules.timezone, date, parseHHMM(from), parseHHMM(to), segments));
}

/** Last bookable local date: today in the zone plus `horizonDays`. */
function lastBookableDate(rules: BookingRules, now: Date): string {
  return addDays(wallClock(rules.timezone, now).date, rules.horizonDays);
}

function assertDate(date: string): void {
  if (!isIsoDate(date)) throw new RangeError(`Not a calendar date (YYYY-MM-DD): ${date}`);
}

/**
 * The free slots of one local date.
 *
 * Slots are laid from the start of each opening interval every `slotDuration + bufferMinutes`
 * minutes of real time while the slot fits (see the module comment for DST). A slot is left out
 * when it overlaps a busy interval widened by `bufferMinutes` on both sides, when it starts before
 * `now + minNoticeMinutes` (which also drops past slots), when `date` is after today +
 * `horizonDays` in the zone, or when `date` is in `closedDates`.
 *
 * @param date YYYY-MM-DD in the assistant's zone.
 * @throws RangeError when `date` is not a calendar date or the zone is unknown.
 */
export function daySlots(rules: BookingRules, date: string, now: Date, busy: Busy[]): DaySlots {
  const result: DaySlots = {
    ...dayHeading(rules, date),
    timezone: rules.timezone,
    slots: [],
    slot_duration: rules.slotDuration,
    times: [],
  };
  const grid = slotGrid(rules, date);
  const context = stateContext(rules, grid, now, busy);
  for (const slot of grid) {
    if (slotState(context, slot) !== "available") continue;
    result.slots.push(slot.label);
    result.times.push({ time: slot.time, start: slot.start, end: slot.end });
  }
  return result;
}

/**
 * Every slot of one local date with what stops it being booked: `booked` when a booking covers it
 * (naming the first such booking), `unavailable` when it is past, inside the notice, beyond the
 * horizon or inside another booking's buffer, `available` otherwise — exactly the slots
 * `daySlots` offers. A closed date has no slots.
 *
 * @throws RangeError when `date` is not a calendar date or the zone is unknown.
 */
export function daySchedule(rules: BookingRules, date: string, now: Date, booked: BookedInterval[]): DaySchedule {
  const grid = slotGrid(rules, date);
  const context = stateContext(rules, grid, now, booked);
  const slots = grid.map((slot): ScheduledSlot => {
    const state = slotState(context, slot);
    const holder = state === "booked" ? booked.find((b) => overlaps(slot, b.start.getTime(), b.end.getTime())) : undefined;
    return { time: slot.time, label: slot.label, start: slot.start, end: slot.end, status: state, booking_id: holder?.id ?? null };
  });
  return { ...dayHeading(rules, date), slots };
}

/** What a day's slots are checked against, worked out once per day rather than per slot. */
interface StateContext {
  /** Busy intervals (epoch ms) that can touch the day's grid, buffer included. */
  busy: { from: number; to: number }[];
  buffer: number;
  earliestStart: number;
  lastBookableDate: string;
}

function stateContext(rules: BookingRules, grid: GridSlot[], now: Date, busy: Busy[]): StateContext {
  const buffer = rules.bufferMinutes * MINUTE;
  const first = grid[0];
  const last = grid[grid.length - 1];
  const near = !first || !last ? [] : busy.filter((b) => b.start.getTime() - buffer < last.at + last.duration && b.end.getTime() + buffer > first.at);
  return {
    busy: near.map((b) => ({ from: b.start.getTime(), to: b.end.getTime() })),
    buffer,
    earliestStart: now.getTime() + rules.minNoticeMinutes * MINUTE,
    lastBookableDate: lastBookableDate(rules, now),
  };
}

/** The grid slot a booking, the notice, the horizon or a buffer leaves free or takes. */
function slotState(context: StateContext, slot: GridSlot): SlotStatus {
  const { busy, buffer } = context;
  if (busy.some((b) => overlaps(slot, b.from, b.to))) return "booked";
  if (busy.some((b) => overlaps(slot, b.from - buffer, b.to + buffer))) return "unavailable";
  if (slot.at < context.earliestStart) return "unavailable";
  if (slot.date > context.lastBookableDate) return "unavailable";
  return "available";
}

function overlaps(slot: GridSlot, from: number, to: number): boolean {
  return slot.at < to && slot.at + slot.duration > from;
}

function dayHeading(rules: BookingRules, date: string): { date: string; day: string; business_hours: string } {
  assertDate(date);
  return { date, day: DAY_NAMES[weekdayIndex(date)] as string, business_hours: businessHours(rules, date) };
}

interface GridSlot {
  date: string;
  /** Epoch ms it starts. */
  at: number;
  duration: number;
  time: string;
  label: string;
  start: string;
  end: string;
}

/**
 * The slot grid of one local date in real-time order, ignoring bookings, notice and horizon: from
 * the start of each opening interval every `slotDuration + bufferMinutes` minutes of real time
 * while the slot fits (see the module comment for DST). A closed date has none.
 */
function slotGrid(rules: BookingRules, date: string): GridSlot[] {
  if (isClosed(rules, date)) return [];
  const duration = rules.slotDuration * MINUTE;
  const step = (rules.slotDuration + rules.bufferMinutes) * MINUTE;
  const segments = offsetSegments(rules.timezone, date);
  const starts: number[] = [];
  for (const [from, to] of openIntervals(rules, date, segments)) {
    for (let t = from; t + duration <= to; t += step) starts.push(t);
  }
  // Ranges are sorted, but on a fall-back night their intervals can interleave in real time.
  starts.sort((a, b) => a - b);
  // Labels from the day's offset segments (starts are in time order, so one pass): the same wall
  // clock as asking Intl per slot, without an Intl call per slot.
  let segment = 0;
  return starts.map((t) => {
    while (segment < segments.length - 1 && t >= (segments[segment] as OffsetSegment).to) segment++;
    const wall = wallClockAt(t, (segments[segment] as OffsetSegment).offset);
    return {
      date,
      at: t,
      duration,
      time: `${pad2(wall.hour)}:${pad2(wall.minute)}`,
      label: label(wall.hour, wall.minute),
      start: new Date(t).toISOString(),
      end: new Date(t + duration).toISOString(),
    };
  });
}

/** The wall clock (hour, minute) at instant `t` where the zone's offset is `offset` ms. */
function wallClockAt(t: number, offset: number): { hour: number; minute: number } {
  const local = new Date(t + offset);
  return { hour: local.getUTCHours(), minute: local.getUTCMinutes() };
}

/**
 * `daySlots` for every local date from `from` to `to`, inclusive, in date order.
 *
 * Refuses (never throws) with `invalid_range` when either date is not YYYY-MM-DD or `to` is before
 * `from`, and with `range_too_long` when the range has more than {@link MAX_RANGE_DAYS} dates.
 */
export function slotsBetween(rules: BookingRules, from: string, to: string, now: Date, busy: Busy[]): SlotsBetweenResult {
  if (!isIsoDate(from) || !isIsoDate(to)) {
    return { ok: false, reason: "invalid_range", message: "Dates must be calendar dates written YYYY-MM-DD." };
  }
  const count = daysBetween(from, to) + 1;
  if (count < 1) return { ok: false, reason: "invalid_range", message: `${to} is before ${from}.` };
  if (count > MAX_RANGE_DAYS) {
    return {
      ok: false,
      reason: "range_too_long",
      message: `${from} to ${to} is ${count} days; at most ${MAX_RANGE_DAYS} are allowed.`,
    };
  }
  const days: DaySlots[] = [];
  for (let i = 0; i < count; i++) days.push(daySlots(rules, addDays(from, i), now, busy));
  return { ok: true, days };
}

/**
 * Whether a booking of `slots` consecutive slots may start at `start` (busy intervals are not
 * considered here). The booking lasts `slots * slotDuration + (slots - 1) * bufferMinutes` minutes
 * and must stay inside one opening interval of the local date on which it starts.
 *
 * Checks, first failure wins: `in_past` (start before now), `inside_notice` (before now +
 * minNoticeMinutes), `beyond_horizon` (local date after today + horizonDays), `closed_day` (closed
 * date or no hours that weekday), `outside_hours` (not inside an opening interval),
 * `not_on_slot_boundary` (not on the interval's slot grid), `outside_hours` (the end runs past the
 * interval).
 *
 * @throws RangeError when `slots` is not a whole number >= 1 or the zone is unknown.
 */
export function checkBookingStart(rules: BookingRules, start: Date, slots: number, now: Date): BookingCheck {
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be a whole number >= 1, not ${slots}`);
  const t = start.getTime();
  if (t < now.getTime()) return refuse("in_past", "That time has already passed.");
  if (t < now.getTime() + rules.minNoticeMinutes * MINUTE) {
    return refuse("inside_notice", `Bookings need at least ${rules.minNoticeMinutes} minutes' notice.`);
  }
  const date = wallClock(rules.timezone, t).date;
  if (date > lastBookableDate(rules, now)) {
    return refuse("beyond_horizon", `Bookings open at most ${rules.horizonDays} days ahead.`);
  }
  if (isClosed(rules, date)) return refuse("closed_day", `Closed on ${date}.`);

  const interval = openIntervals(rules, date).find(([from, to]) => from <= t && t < to);
  if (!interval) return refuse("outside_hours", `Outside business hours (${businessHours(rules, date)}).`);
  const step = (rules.slotDuration + rules.bufferMinutes) * MINUTE;
  if ((t - interval[0]) % step !== 0) {
    return refuse("not_on_slot_boundary", "That time is not the start of a slot.");
  }
  const end = t + (slots * rules.slotDuration + (slots - 1) * rules.bufferMinutes) * MINUTE;
  if (end > interval[1]) {
    return refuse("outside_hours", `The booking would run past business hours (${businessHours(rules, date)}).`);
  }
  return { ok: true, end: new Date(end) };
}

function refuse(reason: BookingRefusal, message: string): BookingCheck {
  return { ok: false, reason, message };
}

/** The local date (YYYY-MM-DD) in `timezone` at the instant `at`, e.g. "today" for `now`. */
export function localDateOf(timezone: string, at: Date): string {
  return wallClock(timezone, at).date;
}
