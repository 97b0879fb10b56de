/**
 * Daylight-saving days through the API: the slots an assistant offers on the transition days of
 * four zones, as UTC instants, and bookings at the odd slots (the repeated hour) racing as usual.
 * Hours 00:00-04:00 every day with one-hour slots put the transitions inside the opening hours.
 */
import { describe, expect, it } from "vitest";
import type { Assistant } from "../src/modules/assistants/assistants/service";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { expectProblem } from "./harness/helpers";

const NIGHT = [["00:00", "04:00"]];
const EVERY_DAY = { mon: NIGHT, tue: NIGHT, wed: NIGHT, thu: NIGHT, fri: NIGHT, sat: NIGHT, sun: NIGHT };

async function nightAssistant(who: SignedUp, timezone: string): Promise<Assistant> {
  const body = { name: "Ava", business_name: "Night Desk", timezone, weekly_hours: EVERY_DAY, slot_duration: 60, buffer_minutes: 0, horizon_days: 365 };
  return expectJson<Assistant>(await call("/v1/assistants", { token: who.access_token, orgId: who.orgId, body }), 201);
}

async function slotTimes(who: SignedUp, assistantId: string, date: string): Promise<string[]> {
  const day = await expectJson<{ times: { time: string; start: string }[] }>(
    await call(`/v1/assistants/${assistantId}/slots?date=${date}`, { token: who.access_token, orgId: who.orgId }),
    200,
  );
  return day.times.map((t) => `${t.time} ${t.start.slice(0, 16)}`);
}

function book(who: SignedUp, assistantId: string, start: string, slots = 1): Promise<Response> {
  return call(`/v1/assistants/${assistantId}/bookings`, {
    token: who.access_token,
    orgId: who.orgId,
    body: { start, slots, customer_name: "Sam", notify: "none" },
  });
}

describe("slots and bookings on daylight-saving days", () => {
  it("New York 2027: no slot in the spring-forward gap; the repeated 1 AM is offered twice, an hour apart", async () => {
    const owner = await signUp("dst-ny");
    const assistant = await nightAssistant(owner, "America/New_York");
    expect(await slotTimes(owner, assistant.id, "2027-03-14")).toEqual(["00:00 2027-03-14T05:00", "01:00 2027-03-14T06:00", "03:00 2027-03-14T07:00"]);
    expect(await slotTimes(owner, assistant.id, "2027-11-07")).toEqual([
      "00:00 2027-11-07T04:00",
      "01:00 2027-11-07T05:00",
      "01:00 2027-11-07T06:00",
      "02:00 2027-11-07T07:00",
      "03:00 2027-11-07T08:00",
    ]);
    // The second 1 AM is its own slot: booking it leaves the first free, and a second client gets a 409.
    const second = await expectJson<{ id: string }>(await book(owner, assistant.id, "2027-11-07T06:00:00.000Z"), 201);
    const again = await expectProblem(await book(owner, assistant.id, "2027-11-07T06:00:00.000Z"), 409);
    expect(again.detail).toContain(second.id);
    await expectJson(await book(owner, assistant.id, "2027-11-07T05:00:00.000Z"), 201);
    expect(await slotTimes(owner, assistant.id, "2027-11-07")).toEqual(["00:00 2027-11-07T04:00", "02:00 2027-11-07T07:00", "03:00 2027-11-07T08:00"]);
    // Three slots from midnight would run over both 1 AM bookings: refused, naming one of them.
    const multi = await expectProblem(await book(owner, assistant.id, "2027-11-07T04:00:00.000Z", 3), 409);
    expect(multi.detail).toMatch(/overlaps booking bkg_/);
  });

  it("London 2027: one hour lost in March, one repeated in October", async () => {
    const owner = await signUp("dst-london");
    const assistant = await nightAssistant(owner, "Europe/London");
    expect(await slotTimes(owner, assistant.id, "2027-03-28")).toEqual(["00:00 2027-03-28T00:00", "02:00 2027-03-28T01:00", "03:00 2027-03-28T02:00"]);
    expect(await slotTimes(owner, assistant.id, "2027-10-31")).toEqual([
      "00:00 2027-10-30T23:00",
      "01:00 2027-10-31T00:00",
      "01:00 2027-10-31T01:00",
      "02:00 2027-10-31T02:00",
      "03:00 2027-10-31T03:00",
    ]);
  });

  it("Adelaide 2027 (+10:30 / +9:30) and Kolkata (+5:30, no DST)", async () => {
    const owner = await signUp("dst-adelaide");
    const adelaide = await nightAssistant(owner, "Australia/Adelaide");
    // 4 April: 03:00 ACDT becomes 02:00 ACST, so 00:00-04:00 lasts five hours.
    expect(await slotTimes(owner, adelaide.id, "2027-04-04")).toEqual([
      "00:00 2027-04-03T13:30",
      "01:00 2027-04-03T14:30",
      "02:00 2027-04-03T15:30",
      "02:00 2027-04-03T16:30",
      "03:00 2027-04-03T17:30",
    ]);
    // 3 October: 02:00 ACST becomes 03:00 ACDT, so it lasts three.
    expect(await slotTimes(owner, adelaide.id, "2027-10-03")).toEqual(["00:00 2027-10-02T14:30", "01:00 2027-10-02T15:30", "03:00 2027-10-02T16:30"]);
    const kolkata = await nightAssistant(owner, "Asia/Kolkata");
    expect(await slotTimes(owner, kolkata.id, "2027-03-14")).toEqual([
      "00:00 2027-03-13T18:30",
      "01:00 2027-03-13T19:30",
      "02:00 2027-03-13T20:30",
      "03:00 2027-03-13T21:30",
    ]);
  });

  it("two bookings racing to be moved onto one free slot: one moves, the other keeps its time", async () => {
    const owner = await signUp("dst-race");
    const assistant = await nightAssistant(owner, "Europe/London");
    const a = await expectJson<{ id: string }>(await book(owner, assistant.id, "2027-10-30T23:00:00.000Z"), 201);
    const b = await expectJson<{ id: string }>(await book(owner, assistant.id, "2027-10-31T00:00:00.000Z"), 201);
    const target = "2027-10-31T01:00:00.000Z";
    const moves = await Promise.all(
      [a, b].map((booking) =>
        call(`/v1/assistants/${assistant.id}/bookings/${booking.id}/reschedule`, { token: owner.access_token, orgId: owner.orgId, body: { start: target } }),
      ),
    );
    expect(moves.map((r) => r.status).sort()).toEqual([200, 409]);
    const list = await expectJson<{ data: { id: string; start: string; status: string }[] }>(
      await call(`/v1/assistants/${assistant.id}/bookings?status=confirmed&start_date=2027-10-30&end_date=2027-10-31`, {
        token: owner.access_token,
        orgId: owner.orgId,
      }),
      200,
    );
    const starts = list.data.map((x) => x.start).sort();
    expect(starts).toHaveLength(2);
    expect(starts).toContain(`${target.slice(0, 19)}.000Z`);
    expect(new Set(starts).size).toBe(2);
  });
});
