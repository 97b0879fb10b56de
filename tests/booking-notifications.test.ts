import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agentEvents, bookings, messages } from "../src/db/schema";
import type { ServiceCtx } from "../src/lib/context";
import { newId } from "../src/lib/ids";
import type { Assistant } from "../src/modules/assistants/assistants/service";
import { createBooking } from "../src/modules/assistants/bookings/service";
import { systemActor } from "../src/modules/identity/auth/principal";
import { call, expectJson, type SignedUp, signUp, uniqueEmail } from "./harness/api";
import { fakeResend, fakeTwilio, messageRow, twilioErrorBody } from "./harness/fakes";
import { fetchWithEnv, testCtx } from "./harness/helpers";

const DAY_MS = 86_400_000;
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const everyDay = Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => [day, [["09:00", "12:00"]]]));

let phoneCounter = 0;
const phoneBase = Math.floor(Math.random() * 90_000) + 10_000;
function uniquePhone(): string {
  return `+1629${phoneBase}${String(++phoneCounter).padStart(2, "0")}`;
}

interface BookingBody {
  id: string;
  start: string;
  status: string;
  source: string;
}

/** A UTC date `days` from now, as YYYY-MM-DD. */
function dayFromNow(days: number): string {
  return new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);
}

/** "December 8, 2026" for a YYYY-MM-DD. */
function spokenDate(date: string): string {
  const [year, month, day] = date.split("-").map(Number) as [number, number, number];
  return `${MONTHS[month - 1]} ${day}, ${year}`;
}

/** Kolkata is +05:30 all year: 09:00 local is 03:30 UTC on every date. */
async function kolkataAssistant(owner: SignedUp): Promise<Assistant> {
  const body = {
    name: "Ava",
    business_name: "Lotus Dental",
    timezone: "Asia/Kolkata",
    weekly_hours: everyDay,
    slot_duration: 30,
    buffer_minutes: 0,
    min_notice_minutes: 0,
  };
  return expectJson<Assistant>(await call("/v1/assistants", { token: owner.access_token, orgId: owner.orgId, body }), 201);
}

function book(owner: SignedUp, assistantId: string, body: Record<string, unknown>, key?: string): Promise<Response> {
  return call(`/v1/assistants/${assistantId}/bookings`, {
    token: owner.access_token,
    orgId: owner.orgId,
    body: { customer_name: "Asha Rao", ...body },
    headers: key ? { "Idempotency-Key": key } : {},
  });
}

function messagesOf(bookingId: string) {
  return testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "booking"), eq(messages.entityId, bookingId)))
    .orderBy(messages.createdAt, messages.id);
}

async function delivered(messageId: string, status = "sent"): Promise<void> {
  await expect.poll(async () => (await messageRow(messageId))?.status, { timeout: 10_000, interval: 200 }).toBe(status);
}

describe("booking notifications", () => {
  it("text the confirmation to the booking's phone with the business, the local time in the assistant's zone and the booking id", async () => {
    const owner = await signUp("bkn-sms");
    const assistant = await kolkataAssistant(owner);
    const phone = uniquePhone();
    const date = dayFromNow(5);
    const booking = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T03:30:00.000Z`, phone, email: uniqueEmail("bkn") }), 201);

    const [message, ...others] = await messagesOf(booking.id);
    expect(others).toEqual([]);
    expect(message).toMatchObject({ orgId: owner.orgId, channel: "sms", recipient: phone });
    await delivered(message?.id ?? "");
    const [sms, ...more] = await fakeTwilio.messages(phone);
    expect(more).toEqual([]);
    expect(sms?.body).toContain("Lotus Dental");
    expect(sms?.body).toContain(`${spokenDate(date)} at 9:00 AM GMT+5:30`);
    expect(sms?.body).toContain(booking.id);
    expect(sms?.body).toContain("confirmed");
  });

  it("email the confirmation when the booking has only an email address", async () => {
    const owner = await signUp("bkn-email");
    const assistant = await kolkataAssistant(owner);
    const email = uniqueEmail("bkn-only");
    const date = dayFromNow(6);
    const booking = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T04:00:00.000Z`, email }), 201);

    const [message] = await messagesOf(booking.id);
    expect(message).toMatchObject({ channel: "email", recipient: email });
    await delivered(message?.id ?? "");
    const [mail, ...more] = await fakeResend.emails(email);
    expect(more).toEqual([]);
    expect(mail?.subject).toContain("Lotus Dental");
    expect(mail?.text ?? mail?.html).toContain(`${spokenDate(date)} at 9:30 AM GMT+5:30`);
    expect(mail?.text ?? mail?.html).toContain(booking.id);
  });

  it("send nothing with notify none, or when the booking has no phone or email", async () => {
    const owner = await signUp("bkn-none");
    const assistant = await kolkataAssistant(owner);
    const date = dayFromNow(5);
    const silent = await expectJson<BookingBody>(
      await book(owner, assistant.id, { start: `${date}T03:30:00.000Z`, phone: uniquePhone(), notify: "none" }),
      201,
    );
    const anonymous = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T04:00:00.000Z` }), 201);
    const noPhone = await expectJson<BookingBody>(
      await book(owner, assistant.id, { start: `${date}T04:30:00.000Z`, email: uniqueEmail("bkn-wa"), notify: "whatsapp" }),
      201,
    );
    expect(await messagesOf(silent.id)).toEqual([]);
    expect(await messagesOf(anonymous.id)).toEqual([]);
    expect(await messagesOf(noPhone.id)).toEqual([]);
    await expectJson(
      await call(`/v1/assistants/${assistant.id}/bookings/${silent.id}/cancel`, { token: owner.access_token, orgId: owner.orgId, body: { notify: "none" } }),
      200,
    );
    expect(await messagesOf(silent.id)).toEqual([]);
  });

  it("keep the channel a booking asked for: a move and a cancel without notify go the same way, none stays silent", async () => {
    const owner = await signUp("bkn-keep");
    const assistant = await kolkataAssistant(owner);
    const date = dayFromNow(6);
    const quiet = await expectJson<BookingBody & { notify: string }>(
      await book(owner, assistant.id, { start: `${date}T03:30:00.000Z`, phone: uniquePhone(), notify: "none" }),
      201,
    );
    expect(quiet.notify).toBe("none");
    const move = (id: string, body: Record<string, unknown>) =>
      call(`/v1/assistants/${assistant.id}/bookings/${id}/reschedule`, { token: owner.access_token, orgId: owner.orgId, body });
    const cancel = (id: string) => call(`/v1/assistants/${assistant.id}/bookings/${id}/cancel`, { token: owner.access_token, orgId: owner.orgId, body: {} });
    await expectJson(await move(quiet.id, { start: `${date}T04:00:00.000Z` }), 200);
    await expectJson(await cancel(quiet.id), 200);
    expect(await messagesOf(quiet.id)).toEqual([]);

    const phone = uniquePhone();
    const chatty = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T04:30:00.000Z`, phone, notify: "whatsapp" }), 201);
    await expectJson(await move(chatty.id, { start: `${date}T05:00:00.000Z` }), 200);
    // A reschedule may change the choice; the cancel then follows the new one.
    expect(await expectJson<{ notify: string }>(await move(chatty.id, { start: `${date}T05:30:00.000Z`, notify: "sms" }), 200)).toMatchObject({
      notify: "sms",
    });
    await expectJson(await cancel(chatty.id), 200);
    expect((await messagesOf(chatty.id)).map((m) => [m.idempotencyKey?.split(":")[0], m.channel])).toEqual([
      ["booking-confirmed", "whatsapp"],
      ["booking-moved", "whatsapp"],
      ["booking-moved", "sms"],
      ["booking-cancelled", "sms"],
    ]);
  });

  it("refuse an unknown notify channel with 422 on notify, booking nothing", async () => {
    const owner = await signUp("bkn-bad");
    const assistant = await kolkataAssistant(owner);
    const response = await book(owner, assistant.id, { start: `${dayFromNow(5)}T03:30:00.000Z`, phone: uniquePhone(), notify: "pigeon" });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(["notify"]);
    expect(await testCtx().db.select().from(bookings).where(eq(bookings.assistantId, assistant.id))).toEqual([]);
  });

  it("send one confirmation when a booking is replayed with the same Idempotency-Key", async () => {
    const owner = await signUp("bkn-replay");
    const assistant = await kolkataAssistant(owner);
    const phone = uniquePhone();
    const body = { start: `${dayFromNow(7)}T03:30:00.000Z`, phone };
    const key = `bkn-${newId("bkg")}`;
    const first = await expectJson<BookingBody>(await book(owner, assistant.id, body, key), 201);
    const again = await expectJson<BookingBody>(await book(owner, assistant.id, body, key), 201);
    expect(again.id).toBe(first.id);

    const rows = await messagesOf(first.id);
    expect(rows).toHaveLength(1);
    await delivered(rows[0]?.id ?? "");
    expect(await fakeTwilio.messages(phone)).toHaveLength(1);
  });

  it("text the new time on each reschedule, and one cancellation however often it is cancelled", async () => {
    const owner = await signUp("bkn-move");
    const assistant = await kolkataAssistant(owner);
    const phone = uniquePhone();
    const date = dayFromNow(5);
    const booking = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T03:30:00.000Z`, phone }), 201);
    const reschedule = (start: string) =>
      call(`/v1/assistants/${assistant.id}/bookings/${booking.id}/reschedule`, { token: owner.access_token, orgId: owner.orgId, body: { start } });
    await expectJson(await reschedule(`${date}T05:00:00.000Z`), 200);
    await expectJson(await reschedule(`${date}T06:00:00.000Z`), 200);
    const cancel = () =>
      call(`/v1/assistants/${assistant.id}/bookings/${booking.id}/cancel`, { method: "POST", token: owner.access_token, orgId: owner.orgId });
    expect(await expectJson<BookingBody>(await cancel(), 200)).toMatchObject({ status: "cancelled" });
    expect(await expectJson<BookingBody>(await cancel(), 200)).toMatchObject({ status: "cancelled" });

    const rows = await messagesOf(booking.id);
    expect(rows).toHaveLength(4);
    for (const row of rows) await delivered(row.id);
    const texts = (await fakeTwilio.messages(phone)).map((m) => m.body);
    expect(texts).toHaveLength(4);
    expect(texts.filter((t) => t.includes("confirmed") && t.includes("9:00 AM GMT+5:30"))).toHaveLength(1);
    // 05:00Z and 06:00Z are 10:30 and 11:30 in Kolkata.
    expect(texts.filter((t) => t.includes("moved") && t.includes(`${spokenDate(date)} at 10:30 AM GMT+5:30`))).toHaveLength(1);
    expect(texts.filter((t) => t.includes("moved") && t.includes(`${spokenDate(date)} at 11:30 AM GMT+5:30`))).toHaveLength(1);
    expect(texts.filter((t) => t.includes("cancelled") && t.includes("11:30 AM") && t.includes(booking.id))).toHaveLength(1);
  });

  it("keep the booking when its text is refused by Twilio or the outbound queue is down", async () => {
    const owner = await signUp("bkn-fail");
    const assistant = await kolkataAssistant(owner);
    const date = dayFromNow(5);
    // Twilio refuses this number for good (error 21211). A number of this test's own, not Twilio's
    // magic invalid one: the fake is shared with test files running alongside, which count its requests.
    const phone = uniquePhone();
    await fakeTwilio.fail(phone, [{ status: 400, body: twilioErrorBody(400, 21211, `The 'To' number ${phone} is not a valid phone number.`) }]);
    const refused = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T03:30:00.000Z`, phone }), 201);
    const [message] = await messagesOf(refused.id);
    await delivered(message?.id ?? "", "failed");

    const queueDown = {
      send: async () => {
        throw new Error("queue unavailable");
      },
      sendBatch: async () => {
        throw new Error("queue unavailable");
      },
    };
    const request = new Request(`http://api.test/v1/assistants/${assistant.id}/bookings`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${owner.access_token}`,
        "X-Org-Id": owner.orgId,
        "Content-Type": "application/json",
        "CF-Connecting-IP": "198.51.100.7",
      },
      body: JSON.stringify({ start: `${date}T04:00:00.000Z`, customer_name: "Queue Down", phone: uniquePhone() }),
    });
    const response = await fetchWithEnv(request, { OUTBOUND: queueDown });
    const standing = await expectJson<BookingBody>(response, 201);

    const rows = await testCtx().db.select().from(bookings).where(eq(bookings.assistantId, assistant.id));
    expect(rows.map((row) => [row.id, row.status]).sort()).toEqual(
      [
        [refused.id, "confirmed"],
        [standing.id, "confirmed"],
      ].sort(),
    );
  });
});

describe("the booking_made outcome", () => {
  /** A context acting for `orgId` as a booking channel would: it may book, nothing more. */
  function bookingCtx(orgId: string): ServiceCtx {
    return { ...testCtx(), actor: systemActor(orgId, ["assistants:read", "assistants:write"]) };
  }

  function outcomesOf(agentId: string) {
    return testCtx().db.select().from(agentEvents).where(eq(agentEvents.agentId, agentId));
  }

  it("is recorded once for the assistant's agent when a call or chat books, and not for an API booking", async () => {
    const owner = await signUp("bkn-outcome");
    const assistant = await kolkataAssistant(owner);
    const ctx = bookingCtx(owner.orgId);
    const date = dayFromNow(5);
    const byCall = await createBooking(
      ctx,
      assistant.id,
      { start: `${date}T03:30:00.000Z`, customer_name: "Caller" },
      { source: "call", sourceId: "CA123", idempotencyKey: "call-CA123" },
    );
    const replay = await createBooking(
      ctx,
      assistant.id,
      { start: `${date}T03:30:00.000Z`, customer_name: "Caller" },
      { source: "call", sourceId: "CA123", idempotencyKey: "call-CA123" },
    );
    expect(replay.id).toBe(byCall.id);
    const byChat = await createBooking(ctx, assistant.id, { start: `${date}T04:00:00.000Z`, customer_name: "Chatter" }, { source: "chat", sourceId: "conv_1" });
    const byApi = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T04:30:00.000Z` }), 201);

    const events = await outcomesOf(assistant.agent_id);
    expect(events.map((e) => e.id).sort()).toEqual([byCall.id, byChat.id].sort());
    for (const event of events) expect(event).toMatchObject({ orgId: owner.orgId, kind: "outcome", type: "booking_made", success: true });
    expect(events.find((e) => e.id === byCall.id)?.metadata).toMatchObject({ source: "call", source_id: "CA123" });
    expect(events.some((e) => e.id === byApi.id)).toBe(false);
  });

  it("never fails the booking when it cannot be recorded (the agent is archived)", async () => {
    const owner = await signUp("bkn-outcome-fail");
    const assistant = await kolkataAssistant(owner);
    // Archive the usage agent only, so recording the outcome is refused while the assistant still books.
    const archived = await call(`/v1/agents/${assistant.agent_id}`, { method: "DELETE", token: owner.access_token, orgId: owner.orgId });
    expect(archived.status).toBeLessThan(300);
    const booking = await createBooking(
      bookingCtx(owner.orgId),
      assistant.id,
      { start: `${dayFromNow(5)}T03:30:00.000Z`, customer_name: "Caller" },
      { source: "call" },
    );
    expect(booking.status).toBe("confirmed");
    expect(await testCtx().db.select().from(bookings).where(eq(bookings.id, booking.id))).toHaveLength(1);
    expect(await outcomesOf(assistant.agent_id)).toEqual([]);
  });
});
