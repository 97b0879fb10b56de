import { and, eq, sql } from "drizzle-orm";
import { bookings } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { type BookingNotify, failureReason, sendBookingMessage } from "./notifications";

/** How long before its start a booking is reminded. */
export const REMINDER_LEAD_HOURS = 24;
/** Bookings reminded per run at most; the rest wait five minutes for the next run. */
export const BOOKING_REMINDERS_PER_RUN = 500;
const HOUR_MS = 3_600_000;

/** A booking claimed for a reminder, with what its message needs (the start as epoch ms text: exact, whatever the session's zone). */
interface ClaimedBooking {
  id: string;
  org_id: string;
  start_ms: string;
  phone: string | null;
  email: string | null;
  notify: BookingNotify | null;
  business_name: string;
  timezone: string;
}

export interface BookingReminderRun {
  claimed: number;
  sent: number;
  failed: number;
}

/**
 * Claims up to `limit` confirmed bookings starting within REMINDER_LEAD_HOURS (and not started)
 * that have not been reminded, and stamps them reminded, in ONE statement. Concurrent runs cannot
 * claim a booking twice: rows another run holds are skipped (SKIP LOCKED), and the UPDATE
 * re-checks `reminded_at IS NULL`, which fails for a row another run has just stamped. The CTE is
 * MATERIALIZED so its LIMIT is applied once, not re-evaluated per updated row.
 */
async function claimDueBookings(ctx: ServiceCtx, now: Date, limit: number): Promise<ClaimedBooking[]> {
  const nowIso = now.toISOString();
  const until = new Date(now.getTime() + REMINDER_LEAD_HOURS * HOUR_MS).toISOString();
  const result = (await ctx.db.execute(sql`
    WITH claimed AS MATERIALIZED (
      SELECT due.id
      FROM bookings AS due
      WHERE due.status = 'confirmed'
        AND due.reminded_at IS NULL
        AND due.start_at > ${nowIso}::timestamptz
        AND due.start_at <= ${until}::timestamptz
        AND (due.phone IS NOT NULL OR due.email IS NOT NULL)
        AND due.notify IS DISTINCT FROM 'none'
      ORDER BY due.start_at, due.id
      LIMIT ${limit}
      FOR UPDATE OF due SKIP LOCKED
    )
    UPDATE bookings AS b
    SET reminded_at = ${nowIso}::timestamptz
    FROM claimed, assistants AS a
    WHERE b.id = claimed.id
      AND a.id = b.assistant_id
      AND b.status = 'confirmed'
      AND b.reminded_at IS NULL
    RETURNING b.id, b.org_id, (extract(epoch FROM b.start_at) * 1000)::bigint::text AS start_ms,
      b.phone, b.email, b.notify, a.business_name, a.timezone
  `)) as unknown as { rows: ClaimedBooking[] };
  return result.rows;
}

/** Gives a claim back after a failure that may pass (the queue was down), so the next run tries again. */
async function releaseClaim(ctx: ServiceCtx, id: string, now: Date): Promise<void> {
  await ctx.db
    .update(bookings)
    .set({ remindedAt: null })
    .where(and(eq(bookings.id, id), eq(bookings.remindedAt, now)));
}

/**
 * Reminds each confirmed booking of every organisation once, within REMINDER_LEAD_HOURS of its
 * start, by the channel the booking asked for (none: no reminder), by default SMS to its phone or
 * else email (a reschedule clears the stamp, so the new time is
 * reminded too). Run by the five-minute cron.
 */
export async function sendBookingReminders(ctx: ServiceCtx, options: { limit?: number } = {}): Promise<BookingReminderRun> {
  const now = ctx.now();
  const claimed = await claimDueBookings(ctx, now, options.limit ?? BOOKING_REMINDERS_PER_RUN);
  let sent = 0;
  let failed = 0;
  for (const row of claimed) {
    const booking = { id: row.id, start: new Date(Number(row.start_ms)).toISOString(), phone: row.phone, email: row.email };
    try {
      if (await sendBookingMessage(ctx, row.org_id, booking, row, "reminder", row.notify ?? undefined)) sent++;
    } catch (error) {
      failed++;
      ctx.log.warn("booking reminder not sent", { booking_id: row.id, org_id: row.org_id, reason: failureReason(error) });
      // A recipient the channel refuses will not fix itself in five minutes; anything else may.
      if (!(error instanceof Unprocessable)) await releaseClaim(ctx, row.id, now).catch(() => {});
    }
  }
  return { claimed: claimed.length, sent, failed };
}
