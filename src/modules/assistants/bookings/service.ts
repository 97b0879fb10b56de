import { and, asc, eq, gt, lt, ne, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../../db/client";
import { isExclusionViolation, isUniqueViolation, retryDeadlockOnce } from "../../../db/errors";
import { bookings } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type PageRequest, toPage } from "../../../lib/pagination";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { recordOwnAgentEvent } from "../../usage/events/service";
import type { Assistant } from "../assistants/schemas";
import { getAssistantInOrg } from "../assistants/service";
import { failureReason, notifyBooking } from "./notifications";
import type { Booking, BookingListInput, BookingListPage, BookingNotifyInput, CreateBookingInput, RescheduleBookingInput } from "./schemas";
import {
  type BookedInterval,
  type BookingRules,
  type Busy,
  checkBookingStart,
  type DaySlots,
  daySchedule,
  daySlots,
  localDateOf,
  MAX_RANGE_DAYS,
  slotsBetween,
} from "./slots";
import { addDays, daysBetween, localMidnight } from "./zone";

type BookingRow = typeof bookings.$inferSelect;
const BOOKING_ID = /^bkg_[0-9A-Za-z]{1,64}$/;
const DAY_MS = 86_400_000;

/** The booking rules an assistant's settings stand for. */
export function bookingRules(assistant: Assistant): BookingRules {
  return {
    timezone: assistant.timezone,
    weeklyHours: assistant.weekly_hours,
    slotDuration: assistant.slot_duration,
    bufferMinutes: assistant.buffer_minutes,
    minNoticeMinutes: assistant.min_notice_minutes,
    horizonDays: assistant.horizon_days,
    closedDates: assistant.closed_dates,
  };
}

/**
 * Free slots of one local day (default today in the assistant's zone) or of `from`..`to` (at most
 * 31 days). The assistant's confirmed bookings are the busy intervals, so a booked slot is not
 * offered (and comes back when the booking is cancelled).
 */
export async function getAvailability(
  ctx: ServiceCtx,
  assistantId: string,
  input: { date?: string; from?: string; to?: string },
): Promise<DaySlots | { data: DaySlots[] }> {
  assertCan(ctx, "assistants:read");
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const rules = bookingRules(assistant);
  const now = ctx.now();
  const busy = await busyIntervals(ctx, assistant, now);
  if (input.from && input.to) {
    const range = slotsBetween(rules, input.from, input.to, now, busy);
    if (!range.ok) throw new Unprocessable([{ path: range.reason === "range_too_long" ? "to" : "from", message: range.message }]);
    return { data: range.days };
  }
  return daySlots(rules, input.date ?? localDateOf(rules.timezone, now), now, busy);
}

/** Confirmed bookings of the assistant that can touch a slot still offered (from yesterday to past the horizon). */
async function busyIntervals(ctx: ServiceCtx, assistant: Assistant, now: Date): Promise<Busy[]> {
  const rows = await ctx.db
    .select({ start: bookings.startAt, end: bookings.endAt })
    .from(bookings)
    .where(
      and(
        eq(bookings.assistantId, assistant.id),
        eq(bookings.status, "confirmed"),
        gt(bookings.endAt, new Date(now.getTime() - DAY_MS)),
        lt(bookings.startAt, new Date(now.getTime() + (assistant.horizon_days + 2) * DAY_MS)),
      ),
    );
  return rows;
}

// ---- bookings ----------------------------------------------------------------------------

function bookingView(row: BookingRow): Booking {
  return {
    id: row.id,
    assistant_id: row.assistantId,
    start: row.startAt.toISOString(),
    end: row.endAt.toISOString(),
    slots: row.slots,
    customer_name: row.customerName,
    phone: row.phone,
    email: row.email,
    details: row.details,
    source: row.source,
    source_id: row.sourceId,
    status: row.status,
    notify: row.notify,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function assertBookingId(id: string): void {
  if (!BOOKING_ID.test(id)) throw new NotFound("booking", id.slice(0, 100).replaceAll("\u0000", ""));
}

async function getBookingRow(db: Database, orgId: string, assistantId: string, id: string): Promise<BookingRow> {
  assertBookingId(id);
  const [row] = await db
    .select()
    .from(bookings)
    .where(and(eq(bookings.id, id), eq(bookings.orgId, orgId), eq(bookings.assistantId, assistantId)));
  if (!row) throw new NotFound("booking", id);
  return row;
}

/** A confirmed booking of the assistant overlapping `[start, end)`, other than `exceptId`. */
async function overlapping(db: Database, assistantId: string, start: Date, end: Date, exceptId?: string): Promise<BookingRow | undefined> {
  const filters: SQL[] = [eq(bookings.assistantId, assistantId), eq(bookings.status, "confirmed"), lt(bookings.startAt, end), gt(bookings.endAt, start)];
  if (exceptId) filters.push(ne(bookings.id, exceptId));
  const [row] = await db
    .select()
    .from(bookings)
    .where(and(...filters))
    .limit(1);
  return row;
}

function overlapConflict(row: BookingRow | undefined): Conflict {
  return new Conflict(
    row
      ? `The time overlaps booking ${row.id} (${row.startAt.toISOString()} to ${row.endAt.toISOString()}); pick another free slot`
      : "The time overlaps another booking; pick another free slot",
  );
}

/** The booking a repeated Idempotency-Key stands for, if the request is the same one. */
function sameRequest(row: BookingRow, assistantId: string, start: Date, input: CreateBookingInput): boolean {
  return (
    row.assistantId === assistantId &&
    row.startAt.getTime() === start.getTime() &&
    row.slots === (input.slots ?? 1) &&
    row.customerName === input.customer_name.trim() &&
    row.phone === (input.phone ?? null) &&
    row.email === (input.email?.trim() ?? null) &&
    row.details === (input.details?.trim() ?? null)
  );
}

async function idempotentReplay(
  ctx: ServiceCtx,
  orgId: string,
  key: string,
  assistantId: string,
  start: Date,
  input: CreateBookingInput,
): Promise<Booking | undefined> {
  const [existing] = await ctx.db
    .select()
    .from(bookings)
    .where(and(eq(bookings.orgId, orgId), eq(bookings.idempotencyKey, key)));
  if (!existing) return undefined;
  if (!sameRequest(existing, assistantId, start, input)) {
    throw new Conflict("This Idempotency-Key was used for a different booking; use a new key for a new booking");
  }
  return bookingView(existing);
}

function checkStart(assistant: Assistant, start: Date, slots: number, now: Date): Date {
  const check = checkBookingStart(bookingRules(assistant), start, slots, now);
  if (!check.ok) throw new Unprocessable([{ path: "start", message: check.message }], `The booking cannot start then: ${check.reason}`);
  return check.end;
}

/**
 * Books `slots` consecutive slots of the assistant from `input.start`, after checking the start
 * against the assistant's rules (422 on `start` with the reason). Double booking is closed by the
 * database: the exclusion constraint `bookings_no_overlap` refuses a confirmed booking overlapping
 * another of the same assistant, however many requests race (409 naming the booking in the way).
 * A repeated Idempotency-Key with the same request answers the first booking; with another
 * request, 409.
 */
export async function createBooking(
  ctx: ServiceCtx,
  assistantId: string,
  input: CreateBookingInput,
  options: { source: Booking["source"]; sourceId?: string | null; idempotencyKey?: string },
): Promise<Booking> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const start = new Date(input.start);
  if (Number.isNaN(start.getTime())) throw new Unprocessable([{ path: "start", message: "A date-time such as 2026-12-14T03:30:00Z" }]);
  const key = options.idempotencyKey;
  if (key) {
    const replay = await idempotentReplay(ctx, orgId, key, assistant.id, start, input);
    if (replay) return replay;
  }
  if (assistant.status !== "active") throw new Conflict(`Assistant ${assistant.id} is archived and takes no bookings`);
  const slots = input.slots ?? 1;
  const now = ctx.now();
  const end = checkStart(assistant, start, slots, now);
  let booking: Booking;
  try {
    // One INSERT: the exclusion constraint decides between racing requests for the same time.
    const [row] = await retryDeadlockOnce(() =>
      ctx.db
        .insert(bookings)
        .values({
          id: newId("bkg"),
          orgId,
          assistantId: assistant.id,
          startAt: start,
          endAt: end,
          slots,
          customerName: input.customer_name.trim(),
          phone: input.phone ?? null,
          email: input.email?.trim() ?? null,
          details: input.details?.trim() ?? null,
          source: options.source,
          sourceId: options.sourceId ?? null,
          status: "confirmed",
          idempotencyKey: key ?? null,
          notify: input.notify ?? null,
          createdAt: now,
          updatedAt: now,
        })
        .returning(),
    );
    if (!row) throw new Error("booking insert returned no row");
    booking = bookingView(row);
  } catch (error) {
    if (isExclusionViolation(error)) throw overlapConflict(await overlapping(ctx.db, assistant.id, start, end));
    if (key && isUniqueViolation(error)) {
      // A concurrent request with the same key won the insert: answer its booking.
      const replay = await idempotentReplay(ctx, orgId, key, assistant.id, start, input);
      if (replay) return replay;
    }
    throw error;
  }
  // Only a booking this call made gets here: a replay returned above and sends nothing again.
  if (booking.source !== "api") await recordBookingMade(ctx, assistant, booking);
  await notifyBooking(ctx, orgId, booking, assistant, "confirmed", input.notify);
  return booking;
}

/**
 * A booking an assistant made on a call or in a chat is its agent's `booking_made` outcome. The
 * booking id is the event id, so a retried record counts once. Recorded under the booking's own
 * permission (staff who may book need not hold `events:write`); a failure (e.g. the agent's period
 * already invoiced) is logged and leaves the booking standing.
 */
async function recordBookingMade(ctx: ServiceCtx, assistant: Assistant, booking: Booking): Promise<void> {
  try {
    await recordOwnAgentEvent(ctx, assistant.agent_id, {
      kind: "outcome",
      id: booking.id,
      type: "booking_made",
      success: true,
      occurred_at: new Date(booking.created_at),
      metadata: { booking_id: booking.id, assistant_id: assistant.id, source: booking.source, ...(booking.source_id ? { source_id: booking.source_id } : {}) },
    });
  } catch (error) {
    ctx.log.warn("booking_made outcome not recorded", { booking_id: booking.id, agent_id: assistant.agent_id, reason: failureReason(error) });
  }
}

/** Days a booking list covers when the request leaves a date out: today (or end_date) and the week after (before). */
const DEFAULT_LIST_DAYS = 7;

/**
 * The assistant's bookings starting on local days `start_date`..`end_date` of its zone (default
 * today and the 7 days after), oldest made first, optionally of one `status`; with every day of the
 * range and the state of each of its slots, as a schedule to show beside the list.
 */
export async function listBookings(ctx: ServiceCtx, assistantId: string, query: BookingListInput & PageRequest): Promise<BookingListPage> {
  assertCan(ctx, "assistants:read");
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const now = ctx.now();
  const { from, to } = listRange(assistant.timezone, now, query);
  const localDate = sql`(${bookings.startAt} AT TIME ZONE ${assistant.timezone})::date`;
  const filters: SQL[] = [eq(bookings.orgId, orgId), eq(bookings.assistantId, assistant.id), sql`${localDate} between ${from}::date and ${to}::date`];
  if (query.status) filters.push(eq(bookings.status, query.status));
  if (query.cursor) filters.push(gt(bookings.id, query.cursor));
  const rows = await ctx.db
    .select()
    .from(bookings)
    .where(and(...filters))
    .orderBy(asc(bookings.id))
    .limit(query.limit + 1);
  const page = toPage(rows, query.limit, (row) => row.id, bookingView);
  const held = await heldBetween(ctx, assistant, from, to);
  const rules = bookingRules(assistant);
  const days = Array.from({ length: daysBetween(from, to) + 1 }, (_, i) => daySchedule(rules, addDays(from, i), now, held));
  return { ...page, start_date: from, end_date: to, timezone: assistant.timezone, days };
}

function listRange(timezone: string, now: Date, query: BookingListInput): { from: string; to: string } {
  const from = query.start_date ?? (query.end_date ? addDays(query.end_date, -DEFAULT_LIST_DAYS) : localDateOf(timezone, now));
  const to = query.end_date ?? addDays(from, DEFAULT_LIST_DAYS);
  if (to < from) throw new Unprocessable([{ path: "end_date", message: `end_date ${to} is before start_date ${from}` }]);
  if (daysBetween(from, to) + 1 > MAX_RANGE_DAYS) {
    throw new Unprocessable([{ path: "end_date", message: `${from} to ${to} is more than ${MAX_RANGE_DAYS} days` }]);
  }
  return { from, to };
}

/** Confirmed bookings that can touch a slot of local days `from`..`to` (a day's margin covers any zone offset). */
async function heldBetween(ctx: ServiceCtx, assistant: Assistant, from: string, to: string): Promise<BookedInterval[]> {
  return ctx.db
    .select({ id: bookings.id, start: bookings.startAt, end: bookings.endAt })
    .from(bookings)
    .where(
      and(
        eq(bookings.assistantId, assistant.id),
        eq(bookings.status, "confirmed"),
        gt(bookings.endAt, new Date(localMidnight(from) - 2 * DAY_MS)),
        lt(bookings.startAt, new Date(localMidnight(to) + 3 * DAY_MS)),
      ),
    )
    .orderBy(asc(bookings.startAt));
}

export async function getBooking(ctx: ServiceCtx, assistantId: string, bookingId: string): Promise<Booking> {
  assertCan(ctx, "assistants:read");
  const orgId = requireOrgId(ctx);
  assertBookingId(bookingId);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  return bookingView(await getBookingRow(ctx.db, orgId, assistant.id, bookingId));
}

/** Cancels a booking, freeing its slots; cancelling a cancelled booking answers it unchanged. */
export async function cancelBooking(ctx: ServiceCtx, assistantId: string, bookingId: string, options: { notify?: BookingNotifyInput } = {}): Promise<Booking> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  assertBookingId(bookingId);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  // Conditional on the status, so two cancels race harmlessly: one updates, the other reads.
  const [row] = await ctx.db
    .update(bookings)
    .set({ status: "cancelled", updatedAt: ctx.now() })
    .where(and(eq(bookings.id, bookingId), eq(bookings.orgId, orgId), eq(bookings.assistantId, assistant.id), eq(bookings.status, "confirmed")))
    .returning();
  if (!row) return bookingView(await getBookingRow(ctx.db, orgId, assistant.id, bookingId));
  // Only the cancel that changed the status tells the customer.
  const booking = bookingView(row);
  await notifyBooking(ctx, orgId, booking, assistant, "cancelled", options.notify ?? row.notify ?? undefined);
  return booking;
}

/**
 * Moves a confirmed booking to `start` (and `slots`, default as before) in one UPDATE: the
 * exclusion constraint checks the new range against the other bookings, so the old time is freed
 * only if the new one is taken (409 naming the booking in the way otherwise).
 */
export async function rescheduleBooking(ctx: ServiceCtx, assistantId: string, bookingId: string, input: RescheduleBookingInput): Promise<Booking> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  assertBookingId(bookingId);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const current = await getBookingRow(ctx.db, orgId, assistant.id, bookingId);
  if (current.status !== "confirmed") throw new Conflict(`Booking ${bookingId} is cancelled; book a new time instead`);
  const start = new Date(input.start);
  const slots = input.slots ?? current.slots;
  const now = ctx.now();
  const end = checkStart(assistant, start, slots, now);
  let moved: Booking;
  try {
    const [row] = await retryDeadlockOnce(() =>
      ctx.db
        .update(bookings)
        // A new time deserves its own reminder: the claim only takes bookings not yet reminded.
        .set({ startAt: start, endAt: end, slots, updatedAt: now, remindedAt: null, notify: input.notify ?? current.notify })
        .where(and(eq(bookings.id, bookingId), eq(bookings.orgId, orgId), eq(bookings.status, "confirmed")))
        .returning(),
    );
    if (!row) throw new Conflict(`Booking ${bookingId} was cancelled meanwhile`);
    moved = bookingView(row);
  } catch (error) {
    if (isExclusionViolation(error)) throw overlapConflict(await overlapping(ctx.db, assistant.id, start, end, bookingId));
    throw error;
  }
  // A "move" to the time it already had changes nothing the customer needs to hear.
  if (current.startAt.getTime() !== start.getTime()) await notifyBooking(ctx, orgId, moved, assistant, "moved", moved.notify ?? undefined);
  return moved;
}
