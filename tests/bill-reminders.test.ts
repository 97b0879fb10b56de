import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { and, desc, eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type Database, withTransaction } from "../src/db/client";
import { bills, cronRuns, messages } from "../src/db/schema";
import { loadConfig } from "../src/env";
import worker from "../src/index";
import type { ServiceCtx } from "../src/lib/context";
import { type ReminderRun, sendOverdueReminders } from "../src/modules/retail/bills/reminders";
import { cronJobs } from "../src/scheduled";
import { call, expectJson, type SignedUp, signUp, uniqueEmail } from "./harness/api";
import { fakeResend, fakeTwilio, messageRow, outboundOnHold } from "./harness/fakes";
import { testCtx, testEnv } from "./harness/helpers";

const DAY_MS = 86_400_000;
const REMINDER_CRON = "0 9 * * *";

interface Bill {
  id: string;
  number: string | null;
}

let phoneCounter = 0;
const phoneBase = Math.floor(Math.random() * 90_000) + 10_000;
function uniquePhone(): string {
  return `+1628${phoneBase}${String(++phoneCounter).padStart(2, "0")}`;
}

function isoDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}

const yesterday = () => isoDate(new Date(Date.now() - DAY_MS));

/** A service context whose clock reads `at`, as the cron's would on that day. */
function ctxAt(at: Date): ServiceCtx {
  return { ...testCtx(), now: () => at };
}

async function createCustomer(owner: SignedUp, body: Record<string, unknown>): Promise<{ id: string }> {
  return expectJson(await call("/v1/customers", { token: owner.access_token, body: { name: "Late Payer", ...body } }), 201);
}

/** A bill of 12.00 for the customer, issued unless `issue: false`, due on `due_date`. */
async function bill(owner: SignedUp, customerId: string | null, due_date: string | null, extra: Record<string, unknown> = {}): Promise<Bill> {
  const body = { customer_id: customerId, items: [{ description: "Rice 5kg", quantity: 1, unit_price: 1200 }], due_date, issue: true, ...extra };
  return expectJson<Bill>(await call("/v1/bills", { token: owner.access_token, body }), 201);
}

async function remindersOf(billIds: string[]) {
  return testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "bill"), inArray(messages.entityId, billIds)));
}

async function countPerBill(billIds: string[]): Promise<Record<string, number>> {
  const counts = Object.fromEntries(billIds.map((id) => [id, 0]));
  for (const message of await remindersOf(billIds)) if (message.entityId) counts[message.entityId] = (counts[message.entityId] ?? 0) + 1;
  return counts;
}

describe("overdue reminders", () => {
  it("remind each overdue, unpaid bill whose customer can be reached: email first, else SMS, with a link that opens it", async () => {
    const owner = await signUp("remind-rules");
    const email = uniqueEmail("late");
    const phone = uniquePhone();
    const withEmail = await createCustomer(owner, { email, phone: uniquePhone() });
    const phoneOnly = await createCustomer(owner, { phone });
    const unreachable = await createCustomer(owner, {});

    const overdueEmail = await bill(owner, withEmail.id, yesterday());
    const overduePhone = await bill(owner, phoneOnly.id, "2020-01-15");
    const partlyPaid = await bill(owner, withEmail.id, yesterday());
    await expectJson(await call(`/v1/bills/${partlyPaid.id}/payments`, { token: owner.access_token, body: { amount: 500, method: "cash" } }), 201);
    const dueToday = await bill(owner, withEmail.id, isoDate(new Date()));
    const noDueDate = await bill(owner, withEmail.id, null);
    const draft = await bill(owner, withEmail.id, yesterday(), { issue: false });
    const paid = await bill(owner, withEmail.id, yesterday());
    await expectJson(await call(`/v1/bills/${paid.id}/payments`, { token: owner.access_token, body: { amount: 1200, method: "cash" } }), 201);
    const voided = await bill(owner, withEmail.id, yesterday());
    await expectJson(await call(`/v1/bills/${voided.id}/void`, { token: owner.access_token, method: "POST" }), 200);
    const noContact = await bill(owner, unreachable.id, yesterday());
    const walkIn = await bill(owner, null, yesterday());

    const run = await sendOverdueReminders(testCtx());

    expect(run.failed).toBe(0);
    const reminded = [overdueEmail.id, overduePhone.id, partlyPaid.id];
    const skipped = [dueToday.id, noDueDate.id, draft.id, paid.id, voided.id, noContact.id, walkIn.id];
    expect(await countPerBill([...reminded, ...skipped])).toEqual({
      ...Object.fromEntries(reminded.map((id) => [id, 1])),
      ...Object.fromEntries(skipped.map((id) => [id, 0])),
    });

    const rows = await remindersOf(reminded);
    const byBill = new Map(rows.map((m) => [m.entityId, m]));
    expect(byBill.get(overdueEmail.id)).toMatchObject({
      orgId: owner.orgId,
      channel: "email",
      recipient: email,
      subject: expect.stringMatching(/^Reminder: BILL-\d{6} from .+ is overdue$/),
    });
    expect(byBill.get(overduePhone.id)).toMatchObject({ orgId: owner.orgId, channel: "sms", recipient: phone });
    expect(byBill.get(overduePhone.id)?.body).toContain("due 2020-01-15, is overdue");
    expect(byBill.get(partlyPaid.id)?.body).toContain("Total $12.00, balance due $7.00.");

    const stamped = await testCtx()
      .db.select({ id: bills.id, at: bills.lastRemindedAt })
      .from(bills)
      .where(inArray(bills.id, [...reminded, ...skipped]));
    for (const row of stamped) expect(row.at !== null, row.id).toBe(reminded.includes(row.id));

    // Delivered through the real queue to the fakes, and the link in the text opens the bill.
    for (const message of rows) await expect.poll(async () => (await messageRow(message.id))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    const [sms] = await fakeTwilio.messages(phone);
    const link = /https:\/\/\S+\/b\/\S+/.exec(sms?.body ?? "")?.[0];
    expect(link).toBeDefined();
    const page = await call(new URL(link ?? "https://x/").pathname);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`${overduePhone.number}`);
    // The customer also got a receipt for the part payment; only the reminders are compared here.
    const reminderSubjects = (await fakeResend.emails(email)).map((m) => m.subject).filter((subject) => subject?.startsWith("Reminder:"));
    expect(reminderSubjects.sort()).toEqual([byBill.get(overdueEmail.id)?.subject, byBill.get(partlyPaid.id)?.subject].sort());
  });

  it("send exactly one reminder per bill when runs race, or a run repeats the same day", async () => {
    const a = await signUp("remind-race-a");
    const b = await signUp("remind-race-b");
    const ids: string[] = [];
    for (const owner of [a, b]) {
      const customer = await createCustomer(owner, { email: uniqueEmail("race") });
      for (let i = 0; i < 4; i++) ids.push((await bill(owner, customer.id, yesterday())).id);
    }
    const now = new Date();

    const runs = await Promise.all([sendOverdueReminders(ctxAt(now)), sendOverdueReminders(ctxAt(now)), sendOverdueReminders(ctxAt(now))]);
    await sendOverdueReminders(ctxAt(new Date(now.getTime() + 3 * 60 * 60 * 1000)));

    expect(await countPerBill(ids)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    // Each bill was claimed by exactly one run (not claimed twice and then refused by the
    // message's idempotency key, which would show as a failure).
    expect(runs.reduce((sum, run) => sum + run.claimed, 0)).toBe(ids.length);
    expect(runs.map((run) => run.failed)).toEqual([0, 0, 0]);
  });

  it("let a run that starts while another holds its claims uncommitted skip those bills, without waiting", async () => {
    const owner = await signUp("remind-held");
    const customer = await createCustomer(owner, { email: uniqueEmail("held") });
    const ids = [(await bill(owner, customer.id, "2002-02-01")).id, (await bill(owner, customer.id, "2002-02-02")).id];
    const now = new Date();
    // The first run's messages stay off the queue: its transaction is the test's, not the Worker's.
    const held = outboundOnHold();
    let second: ReminderRun | undefined;

    const first = await withTransaction(held.ctx, async (tx) => {
      const run = await sendOverdueReminders({ ...held.ctx, db: tx as unknown as Database, now: () => now });
      // The other run goes from start to finish while this transaction still holds the rows.
      second = await sendOverdueReminders(ctxAt(now));
      return run;
    });

    expect(first.claimed).toBeGreaterThanOrEqual(ids.length);
    expect(second?.claimed).toBe(0);
    expect(await countPerBill(ids)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    expect((await sendOverdueReminders(ctxAt(now))).claimed).toBe(0);
  });

  it("remind again only once BILL_REMINDER_INTERVAL_DAYS (7) have passed, and only if the bill is still unpaid", async () => {
    const owner = await signUp("remind-interval");
    const customer = await createCustomer(owner, { email: uniqueEmail("interval") });
    const stillDue = await bill(owner, customer.id, yesterday());
    const paidMeanwhile = await bill(owner, customer.id, yesterday());
    const ids = [stillDue.id, paidMeanwhile.id];
    const day0 = new Date();

    await sendOverdueReminders(ctxAt(day0));
    expect(await countPerBill(ids)).toEqual({ [stillDue.id]: 1, [paidMeanwhile.id]: 1 });
    await expectJson(await call(`/v1/bills/${paidMeanwhile.id}/payments`, { token: owner.access_token, body: { amount: 1200, method: "cash" } }), 201);

    await sendOverdueReminders(ctxAt(new Date(day0.getTime() + 6 * DAY_MS)));
    expect(await countPerBill(ids)).toEqual({ [stillDue.id]: 1, [paidMeanwhile.id]: 1 });

    await sendOverdueReminders(ctxAt(new Date(day0.getTime() + 7 * DAY_MS)));
    expect(await countPerBill(ids)).toEqual({ [stillDue.id]: 2, [paidMeanwhile.id]: 1 });

    await sendOverdueReminders(ctxAt(new Date(day0.getTime() + 7 * DAY_MS + 60_000)));
    expect(await countPerBill(ids)).toEqual({ [stillDue.id]: 2, [paidMeanwhile.id]: 1 });
  });

  it("follow BILL_REMINDER_INTERVAL_DAYS when it is set", async () => {
    const owner = await signUp("remind-config");
    const customer = await createCustomer(owner, { email: uniqueEmail("config") });
    const overdue = await bill(owner, customer.id, yesterday());
    const everyThreeDays = (at: Date): ServiceCtx => ({ ...ctxAt(at), config: loadConfig({ ...testEnv, BILL_REMINDER_INTERVAL_DAYS: "3" }) });
    const day0 = new Date();

    await sendOverdueReminders(everyThreeDays(day0));
    await sendOverdueReminders(everyThreeDays(new Date(day0.getTime() + 2 * DAY_MS)));
    expect(await countPerBill([overdue.id])).toEqual({ [overdue.id]: 1 });
    await sendOverdueReminders(everyThreeDays(new Date(day0.getTime() + 3 * DAY_MS)));
    expect(await countPerBill([overdue.id])).toEqual({ [overdue.id]: 2 });
  });

  it("handle every organisation, each message in the bill's own organisation", async () => {
    const owners = [await signUp("remind-org-a"), await signUp("remind-org-b"), await signUp("remind-org-c")];
    const billOrg = new Map<string, string>();
    for (const owner of owners) {
      const customer = await createCustomer(owner, { email: uniqueEmail("org") });
      billOrg.set((await bill(owner, customer.id, yesterday())).id, owner.orgId);
    }

    await sendOverdueReminders(testCtx());

    const rows = await remindersOf([...billOrg.keys()]);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row.orgId).toBe(billOrg.get(row.entityId ?? ""));
    // Each organisation sees its own reminder in its message log, and only that one.
    for (const owner of owners) {
      const page = await expectJson<{ data: { entity: { id: string } | null }[] }>(await call("/v1/messages?limit=100", { token: owner.access_token }), 200);
      const mine = page.data.filter((m) => m.entity && billOrg.has(m.entity.id)).map((m) => billOrg.get(m.entity?.id ?? ""));
      expect(mine).toEqual([owner.orgId]);
    }
  });

  it("claim at most `limit` bills per run, oldest due first; the next run takes the rest", async () => {
    const owner = await signUp("remind-limit");
    const customer = await createCustomer(owner, { email: uniqueEmail("limit") });
    const oldest = await bill(owner, customer.id, "2001-01-01");
    const middle = await bill(owner, customer.id, "2001-01-02");
    const newest = await bill(owner, customer.id, "2001-01-03");
    const ids = [oldest.id, middle.id, newest.id];

    expect((await sendOverdueReminders(testCtx(), { limit: 2 })).claimed).toBe(2);
    expect(await countPerBill(ids)).toEqual({ [oldest.id]: 1, [middle.id]: 1, [newest.id]: 0 });

    await sendOverdueReminders(testCtx(), { limit: 2 });
    expect(await countPerBill(ids)).toEqual({ [oldest.id]: 1, [middle.id]: 1, [newest.id]: 1 });
  });

  it("run from the daily 09:00 cron job, and the run is recorded", async () => {
    expect(cronJobs[REMINDER_CRON]?.map((job) => job.name)).toEqual(["bills.overdue-reminders"]);
    const owner = await signUp("remind-cron");
    const customer = await createCustomer(owner, { email: uniqueEmail("cron") });
    const overdue = await bill(owner, customer.id, yesterday());

    const exec = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: REMINDER_CRON, scheduledTime: new Date() }), testEnv, exec);
    await waitOnExecutionContext(exec);

    expect(await countPerBill([overdue.id])).toEqual({ [overdue.id]: 1 });
    const [run] = await testCtx().db.select().from(cronRuns).where(eq(cronRuns.cron, REMINDER_CRON)).orderBy(desc(cronRuns.startedAt)).limit(1);
    expect(run).toMatchObject({ status: "ok", jobs: [{ job: "bills.overdue-reminders", ok: true, detail: expect.stringMatching(/^\d+ sent, 0 failed$/) }] });
  });
});
