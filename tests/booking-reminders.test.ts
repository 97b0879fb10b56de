import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { and, desc, eq, inArray, like } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { bookings, cronRuns, messages } from "../src/db/schema";
import worker from "../src/index";
import type { ServiceCtx } from "../src/lib/context";
import type { Assistant } from "../src/modules/assistants/assistants/service";
import { REMINDER_LEAD_HOURS, sendBookingReminders } from "../src/modules/assistants/bookings/reminders";
import { cronJobs } from "../src/scheduled";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { fakeTwilio, messageRow } from "./harness/fakes";
import { testCtx, testEnv } from "./harness/helpers";

const HOUR_MS = 3_600_000;
const HALF_HOUR_MS = 1_800_000;
const FIVE_MINUTE_CRON = "*/5 * * * *";
const allDay = Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => [day, [["00:00", "24:00"]]]));

let phoneCounter = 0;
const phoneBase = Math.floor(Math.random() * 90_000) + 10_000;
function uniquePhone(): string {
  return `+1630${phoneBase}${String(++phoneCounter).padStart(2, "0")}`;
}

interface BookingBody {
  id: string;
  start: string;
}

/** A service context whose clock reads `at`, as the cron's would then. */
function ctxAt(at: Date): ServiceCtx {
  return { ...testCtx(), now: () => at };
}

/** The slot start (on the half-hour grid of a UTC assistant open all day) about `hours` from now. */
function slotIn(hours: number): string {
  return new Date(Math.ceil((Date.now() + hours * HOUR_MS) / HALF_HOUR_MS) * HALF_HOUR_MS).toISOString();
}

async function utcAssistant(owner: SignedUp): Promise<Assistant> {
  const body = {
    name: "Ava",
    business_name: "Round The Clock Clinic",
    timezone: "UTC",
    weekly_hours: allDay,
    slot_duration: 30,
    buffer_minutes: 0,
    min_notice_minutes: 0,
  };
  return expectJson<Assistant>(await call("/v1/assistants", { token: owner.access_token, orgId: owner.orgId, body }), 201);
}

async function book(owner: SignedUp, assistantId: string, start: string, phone = uniquePhone(), notify?: string): Promise<BookingBody & { phone: string }> {
  const body = { start, customer_name: "Asha Rao", phone, notify };
  const booking = await expectJson<BookingBody>(
    await call(`/v1/assistants/${assistantId}/bookings`, { token: owner.access_token, orgId: owner.orgId, body }),
    201,
  );
  return { ...booking, phone };
}

function remindersOf(bookingIds: string[]) {
  return testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "booking"), inArray(messages.entityId, bookingIds), like(messages.idempotencyKey, "booking-reminder:%")));
}

async function countPerBooking(bookingIds: string[]): Promise<Record<string, number>> {
  const counts = Object.fromEntries(bookingIds.map((id) => [id, 0]));
  for (const message of await remindersOf(bookingIds)) if (message.entityId) counts[message.entityId] = (counts[message.entityId] ?? 0) + 1;
  return counts;
}

describe("booking reminders", () => {
  it("remind each due booking exactly once when three runs race, and text it to the customer", async () => {
    const owner = await signUp("bkr-race");
    const assistant = await utcAssistant(owner);
    const due = [];
    for (let i = 0; i < 6; i++) due.push(await book(owner, assistant.id, slotIn(1 + i)));
    const now = new Date();

    const runs = await Promise.all([sendBookingReminders(ctxAt(now)), sendBookingReminders(ctxAt(now)), sendBookingReminders(ctxAt(now))]);
    await sendBookingReminders(ctxAt(new Date(now.getTime() + 10 * 60_000)));

    const ids = due.map((b) => b.id);
    expect(await countPerBooking(ids)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    for (const run of runs) expect(run.failed).toBe(0);
    const stamped = await testCtx().db.select({ at: bookings.remindedAt }).from(bookings).where(inArray(bookings.id, ids));
    expect(stamped.every((row) => row.at?.getTime() === now.getTime())).toBe(true);

    const [first] = due;
    const [reminder] = await remindersOf([first?.id ?? ""]);
    await expect.poll(async () => (await messageRow(reminder?.id ?? ""))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    const texts = (await fakeTwilio.messages(first?.phone ?? "")).map((m) => m.body);
    const reminderText = texts.find((t) => t.includes("reminder"));
    expect(reminderText).toContain("Round The Clock Clinic");
    expect(reminderText).toContain(first?.id);
    expect(reminderText).toContain("UTC");
  });

  it(`leave alone bookings further than ${REMINDER_LEAD_HOURS} h away, cancelled, started or already reminded`, async () => {
    const owner = await signUp("bkr-skip");
    const assistant = await utcAssistant(owner);
    const later = await book(owner, assistant.id, slotIn(30));
    const cancelled = await book(owner, assistant.id, slotIn(3));
    await expectJson(
      await call(`/v1/assistants/${assistant.id}/bookings/${cancelled.id}/cancel`, { method: "POST", token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    const soon = await book(owner, assistant.id, slotIn(1));
    const reminded = await book(owner, assistant.id, slotIn(5));
    await testCtx()
      .db.update(bookings)
      .set({ remindedAt: new Date(Date.now() - HOUR_MS) })
      .where(eq(bookings.id, reminded.id));
    const ids = [later.id, cancelled.id, soon.id, reminded.id];

    // Two hours on, `soon` has started: nothing of these is due.
    await sendBookingReminders(ctxAt(new Date(Date.now() + 2 * HOUR_MS)));
    expect(await countPerBooking(ids)).toEqual({ [later.id]: 0, [cancelled.id]: 0, [soon.id]: 0, [reminded.id]: 0 });

    // Seven hours on, `later` is 23 h away and due.
    await sendBookingReminders(ctxAt(new Date(Date.now() + 7 * HOUR_MS)));
    expect(await countPerBooking(ids)).toEqual({ [later.id]: 1, [cancelled.id]: 0, [soon.id]: 0, [reminded.id]: 0 });
  });

  it("go by the channel the booking asked for, and not at all to a booking that asked for none", async () => {
    const owner = await signUp("bkr-notify");
    const assistant = await utcAssistant(owner);
    const quiet = await book(owner, assistant.id, slotIn(2), uniquePhone(), "none");
    const whatsapp = await book(owner, assistant.id, slotIn(3), uniquePhone(), "whatsapp");
    const plain = await book(owner, assistant.id, slotIn(4));
    const run = await sendBookingReminders(testCtx());
    expect(run.failed).toBe(0);
    const reminders = await remindersOf([quiet.id, whatsapp.id, plain.id]);
    expect(reminders.map((m) => [m.entityId, m.channel, m.recipient]).sort()).toEqual(
      [
        [whatsapp.id, "whatsapp", whatsapp.phone],
        [plain.id, "sms", plain.phone],
      ].sort(),
    );
    // The quiet booking was never claimed, so it stays unreminded rather than silently stamped.
    const [row] = await testCtx().db.select({ at: bookings.remindedAt, notify: bookings.notify }).from(bookings).where(eq(bookings.id, quiet.id));
    expect(row).toEqual({ at: null, notify: "none" });
  });

  it("remind a rescheduled booking again, of its new time", async () => {
    const owner = await signUp("bkr-move");
    const assistant = await utcAssistant(owner);
    const booking = await book(owner, assistant.id, slotIn(2));
    await sendBookingReminders(testCtx());
    expect(await countPerBooking([booking.id])).toEqual({ [booking.id]: 1 });
    await sendBookingReminders(testCtx());
    expect(await countPerBooking([booking.id])).toEqual({ [booking.id]: 1 });

    const newStart = slotIn(4);
    await expectJson(
      await call(`/v1/assistants/${assistant.id}/bookings/${booking.id}/reschedule`, {
        token: owner.access_token,
        orgId: owner.orgId,
        body: { start: newStart },
      }),
      200,
    );
    const [row] = await testCtx().db.select({ at: bookings.remindedAt }).from(bookings).where(eq(bookings.id, booking.id));
    expect(row?.at).toBeNull();
    await sendBookingReminders(testCtx());
    const rows = await remindersOf([booking.id]);
    expect(rows).toHaveLength(2);
    const newTime = `${Number(newStart.slice(11, 13)) % 12 || 12}:${newStart.slice(14, 16)} ${Number(newStart.slice(11, 13)) < 12 ? "AM" : "PM"} UTC`;
    // "at " keeps 2:00 AM from matching inside 12:00 AM (the old time, two hours earlier, around midnight).
    expect(rows.filter((m) => m.body?.includes(`at ${newTime}`))).toHaveLength(1);
  });

  it("run from the five-minute cron job, and the run is recorded", async () => {
    expect(cronJobs[FIVE_MINUTE_CRON]?.map((job) => job.name)).toContain("bookings.reminders");
    const owner = await signUp("bkr-cron");
    const assistant = await utcAssistant(owner);
    const booking = await book(owner, assistant.id, slotIn(6));

    const exec = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: FIVE_MINUTE_CRON, scheduledTime: new Date() }), testEnv, exec);
    await waitOnExecutionContext(exec);

    expect(await countPerBooking([booking.id])).toEqual({ [booking.id]: 1 });
    const [run] = await testCtx().db.select().from(cronRuns).where(eq(cronRuns.cron, FIVE_MINUTE_CRON)).orderBy(desc(cronRuns.startedAt)).limit(1);
    expect(run?.status).toBe("ok");
    expect(run?.jobs).toContainEqual({ job: "bookings.reminders", ok: true, detail: expect.stringMatching(/^\d+ sent, \d+ failed$/) });
  });
});
