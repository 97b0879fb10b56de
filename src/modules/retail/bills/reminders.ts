import { and, eq, type SQL, sql } from "drizzle-orm";
import { bills } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { sendMessage } from "../../messaging/outbound/service";
import { utcDate } from "./format";
import { signBillLink } from "./links";
import { billMessageText } from "./message-text";

/** Bills reminded per run at most; the rest wait for the next day's run. */
export const REMINDERS_PER_RUN = 500;

/** A bill claimed for a reminder, with what its message says (numbers as text: raw rows keep bigints exact). */
interface ClaimedBill {
  id: string;
  org_id: string;
  org_name: string;
  number: string | null;
  currency: string;
  total: string;
  amount_paid: string;
  due_date: string;
  link_version: number;
  customer_email: string | null;
  customer_phone: string | null;
  previous_reminded_at: string | null;
}

export interface ReminderRun {
  claimed: number;
  sent: number;
  failed: number;
}

/**
 * Claims up to `limit` overdue bills in ONE statement and marks them reminded. Concurrent runs
 * cannot claim a bill twice: rows another run holds are skipped (SKIP LOCKED), and a row it has
 * just claimed fails the re-checked interval condition once its update is visible. The CTE is
 * MATERIALIZED so LIMIT picks once: as a plain subquery the planner may rescan it per updated
 * row, each rescan skipping the rows just updated and handing out the next ones.
 *
 * "At most one per N days" counts UTC calendar days (reminded on or before today − N), so a daily
 * run at 09:00 reminds again exactly N days later even if the last one went out a little after it.
 */
async function claimOverdueBills(ctx: ServiceCtx, now: Date, limit: number): Promise<ClaimedBill[]> {
  const today = utcDate(now);
  // Each organisation's interval (settings `bills.reminder_interval_days`, else the platform's):
  // reminded again once the last reminder is before UTC midnight of today − (interval − 1).
  const cutoff = (org: SQL) =>
    sql`((${today}::date - (coalesce((${org}.settings->'bills'->>'reminder_interval_days')::int, ${ctx.config.bills.reminderIntervalDays}) - 1))::timestamp AT TIME ZONE 'UTC')`;
  const result = (await ctx.db.execute(sql`
    WITH claimed AS MATERIALIZED (
      SELECT due.id, due.last_reminded_at AS previous_reminded_at
      FROM bills AS due
      JOIN customers AS c ON c.id = due.customer_id AND c.org_id = due.org_id
      JOIN organizations AS due_org ON due_org.id = due.org_id
      WHERE due.status IN ('issued', 'partially_paid')
        AND due.due_date < ${today}::date
        AND (coalesce(c.email, '') <> '' OR coalesce(c.phone, '') <> '')
        AND (due.last_reminded_at IS NULL OR due.last_reminded_at < ${cutoff(sql.raw("due_org"))})
      ORDER BY due.due_date, due.id
      LIMIT ${limit}
      FOR UPDATE OF due SKIP LOCKED
    )
    UPDATE bills AS b
    SET last_reminded_at = ${now.toISOString()}::timestamptz
    FROM claimed, customers AS c, organizations AS o
    WHERE b.id = claimed.id
      AND c.id = b.customer_id
      AND o.id = b.org_id
      AND b.status IN ('issued', 'partially_paid')
      AND (b.last_reminded_at IS NULL OR b.last_reminded_at < ${cutoff(sql.raw("o"))})
    RETURNING b.id, b.org_id, o.name AS org_name, b.number, b.currency, b.total::text AS total,
      b.amount_paid::text AS amount_paid, b.due_date::text AS due_date, b.link_version,
      nullif(c.email, '') AS customer_email, nullif(c.phone, '') AS customer_phone,
      claimed.previous_reminded_at::text AS previous_reminded_at
  `)) as unknown as { rows: ClaimedBill[] };
  return result.rows;
}

/** Gives a claim back after a failure that may pass (the queue was down), so the next run tries again. */
async function releaseClaim(ctx: ServiceCtx, bill: ClaimedBill, now: Date): Promise<void> {
  await ctx.db
    .update(bills)
    // Postgres reads back its own text form exactly; no round trip through a JS Date.
    .set({ lastRemindedAt: bill.previous_reminded_at ? sql`${bill.previous_reminded_at}::timestamptz` : null })
    .where(and(eq(bills.id, bill.id), eq(bills.lastRemindedAt, now)));
}

async function remind(ctx: ServiceCtx, bill: ClaimedBill, now: Date): Promise<void> {
  const link = await signBillLink(ctx.config, { id: bill.id, orgId: bill.org_id, linkVersion: Number(bill.link_version) }, now);
  const total = Number(bill.total);
  const text = billMessageText(
    { orgName: bill.org_name, number: bill.number, currency: bill.currency, total, balanceDue: total - Number(bill.amount_paid), dueDate: bill.due_date },
    link.url,
    "reminder",
  );
  const channel = bill.customer_email ? "email" : "sms";
  await sendMessage(ctx, {
    orgId: bill.org_id,
    channel,
    recipient: bill.customer_email ?? bill.customer_phone ?? "",
    subject: channel === "email" ? text.subject : undefined,
    body: text.body,
    // One reminder per bill per day even if this run were somehow repeated after its claim.
    idempotencyKey: `bill-reminder:${bill.id}:${utcDate(now)}`,
    entity: { type: "bill", id: bill.id },
  });
}

/**
 * The overdue-bill reminders of every organisation: each bill issued or partly paid, past its
 * due date, whose customer has an email address or phone number, and not reminded in the last
 * BILL_REMINDER_INTERVAL_DAYS, gets one message (email if the customer has one, else SMS) with a
 * fresh link, sent in the bill's own organisation.
 */
export async function sendOverdueReminders(ctx: ServiceCtx, options: { limit?: number } = {}): Promise<ReminderRun> {
  const now = ctx.now();
  const claimed = await claimOverdueBills(ctx, now, options.limit ?? REMINDERS_PER_RUN);
  let sent = 0;
  let failed = 0;
  for (const bill of claimed) {
    try {
      await remind(ctx, bill, now);
      sent++;
    } catch (error) {
      failed++;
      ctx.log.warn("overdue reminder not sent", { bill_id: bill.id, org_id: bill.org_id, error });
      // A customer address the channel refuses will not fix itself by tomorrow; anything else may.
      if (!(error instanceof Unprocessable)) await releaseClaim(ctx, bill, now).catch(() => {});
    }
  }
  return { claimed: claimed.length, sent, failed };
}
