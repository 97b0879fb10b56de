import { describe, expect, it } from "vitest";
import { type BookingRules, type Busy, checkBookingStart, daySchedule, daySlots, localDateOf, slotsBetween } from "../src/modules/assistants/bookings/slots";

// Every expected UTC instant below is worked out by hand from the zones' published rules:
// America/New_York EST -5 / EDT -4, 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z), 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z);
// Europe/London GMT 0 / BST +1, 2026-03-29 01:00 GMT -> 02:00 BST (01:00Z), 2026-10-25 02:00 BST -> 01:00 GMT (01:00Z);
// Australia/Adelaide ACST +9:30 / ACDT +10:30, 2026-04-05 03:00 ACDT -> 02:00 ACST (04-04 16:30Z),
// 2026-10-04 02:00 ACST -> 03:00 ACDT (10-03 16:30Z); Asia/Kolkata +5:30; Asia/Kathmandu +5:45.

const LONG_AGO = new Date("2026-01-01T00:00:00Z");

function rules(overrides: Partial<BookingRules>): BookingRules {
  return {
    timezone: "America/New_York",
    weeklyHours: {},
    slotDuration: 60,
    bufferMinutes: 0,
    minNoticeMinutes: 0,
    horizonDays: 400,
    closedDates: [],
    ...overrides,
  };
}

const weekdays = (ranges: [string, string][]) => ({ mon: ranges, tue: ranges, wed: ranges, thu: ranges, fri: ranges });
const starts = (day: ReturnType<typeof daySlots>) => day.times.map((t) => t.start);
const z = (iso: string) => `${iso}:00.000Z`;

describe("daySlots across DST transitions", () => {
  it("New York spring forward: the 02:00 hour does not exist and gets no slot", () => {
    const r = rules({
      weeklyHours: {
        sun: [
          ["01:00", "04:00"],
          ["09:00", "10:00"],
        ],
      },
    });
    const day = daySlots(r, "2026-03-08", LONG_AGO, []);
    expect(day.day).toBe("Sunday");
    expect(day.timezone).toBe("America/New_York");
    expect(day.slots).toEqual(["1:00 AM", "3:00 AM", "9:00 AM"]);
    expect(day.times).toEqual([
      { time: "01:00", start: z("2026-03-08T06:00"), end: z("2026-03-08T07:00") },
      { time: "03:00", start: z("2026-03-08T07:00"), end: z("2026-03-08T08:00") },
      { time: "09:00", start: z("2026-03-08T13:00"), end: z("2026-03-08T14:00") },
    ]);
    // The day before is still EST.
    expect(starts(daySlots(rules({ weeklyHours: { sat: [["09:00", "10:00"]] } }), "2026-03-07", LONG_AGO, []))).toEqual([z("2026-03-07T14:00")]);
  });

  it("New York spring forward: a range starting inside the gap begins when the clock jumps to 03:00", () => {
    const r = rules({ slotDuration: 30, weeklyHours: { sun: [["02:30", "04:00"]] } });
    const day = daySlots(r, "2026-03-08", LONG_AGO, []);
    expect(day.slots).toEqual(["3:00 AM", "3:30 AM"]);
    expect(starts(day)).toEqual([z("2026-03-08T07:00"), z("2026-03-08T07:30")]);
    // A range wholly inside the gap never occurs.
    expect(daySlots(rules({ weeklyHours: { sun: [["02:00", "03:00"]] } }), "2026-03-08", LONG_AGO, []).slots).toEqual([]);
  });

  it("New York fall back: 01:00-03:00 lasts three real hours, both 1:00 AMs get a slot, no UTC start twice", () => {
    const r = rules({ weeklyHours: { sun: [["01:00", "03:00"]] } });
    const day = daySlots(r, "2026-11-01", LONG_AGO, []);
    expect(day.slots).toEqual(["1:00 AM", "1:00 AM", "2:00 AM"]);
    expect(day.times).toEqual([
      { time: "01:00", start: z("2026-11-01T05:00"), end: z("2026-11-01T06:00") },
      { time: "01:00", start: z("2026-11-01T06:00"), end: z("2026-11-01T07:00") },
      { time: "02:00", start: z("2026-11-01T07:00"), end: z("2026-11-01T08:00") },
    ]);
    expect(new Set(starts(day)).size).toBe(day.times.length);
  });

  it("New York fall back: a range ending inside the repeated hour covers only the instants the clock reads inside it", () => {
    // 00:00-01:30 is 00:00-01:30 EDT (04:00Z-05:30Z) and again 01:00-01:30 EST (06:00Z-06:30Z).
    const r = rules({ slotDuration: 30, weeklyHours: { sun: [["00:00", "01:30"]] } });
    const day = daySlots(r, "2026-11-01", LONG_AGO, []);
    expect(day.slots).toEqual(["12:00 AM", "12:30 AM", "1:00 AM", "1:00 AM"]);
    expect(starts(day)).toEqual([z("2026-11-01T04:00"), z("2026-11-01T04:30"), z("2026-11-01T05:00"), z("2026-11-01T06:00")]);
  });

  it("London spring forward and fall back", () => {
    const r = rules({
      timezone: "Europe/London",
      weeklyHours: {
        sun: [
          ["00:00", "03:00"],
          ["09:00", "10:00"],
        ],
      },
    });
    const spring = daySlots(r, "2026-03-29", LONG_AGO, []);
    expect(spring.slots).toEqual(["12:00 AM", "2:00 AM", "9:00 AM"]);
    expect(starts(spring)).toEqual([z("2026-03-29T00:00"), z("2026-03-29T01:00"), z("2026-03-29T08:00")]);

    const autumn = daySlots(r, "2026-10-25", LONG_AGO, []);
    expect(autumn.slots).toEqual(["12:00 AM", "1:00 AM", "1:00 AM", "2:00 AM", "9:00 AM"]);
    expect(starts(autumn)).toEqual([z("2026-10-24T23:00"), z("2026-10-25T00:00"), z("2026-10-25T01:00"), z("2026-10-25T02:00"), z("2026-10-25T09:00")]);
  });

  it("Adelaide (+10:30 -> +9:30 on 2026-04-05, +9:30 -> +10:30 on 2026-10-04)", () => {
    const back = rules({
      timezone: "Australia/Adelaide",
      weeklyHours: {
        sun: [
          ["01:00", "04:00"],
          ["09:00", "10:00"],
        ],
      },
    });
    const april = daySlots(back, "2026-04-05", LONG_AGO, []);
    expect(april.slots).toEqual(["1:00 AM", "2:00 AM", "2:00 AM", "3:00 AM", "9:00 AM"]);
    expect(starts(april)).toEqual([z("2026-04-04T14:30"), z("2026-04-04T15:30"), z("2026-04-04T16:30"), z("2026-04-04T17:30"), z("2026-04-04T23:30")]);

    const forward = rules({ timezone: "Australia/Adelaide", slotDuration: 30, weeklyHours: { sun: [["01:00", "04:00"]] } });
    const october = daySlots(forward, "2026-10-04", LONG_AGO, []);
    expect(october.slots).toEqual(["1:00 AM", "1:30 AM", "3:00 AM", "3:30 AM"]);
    expect(starts(october)).toEqual([z("2026-10-03T15:30"), z("2026-10-03T16:00"), z("2026-10-03T16:30"), z("2026-10-03T17:00")]);
  });
});

describe("daySlots in half-hour and 45-minute zones, labels, buffers", () => {
  it("Kolkata +5:30 with a buffer: slots every duration + buffer while they fit", () => {
    const r = rules({ timezone: "Asia/Kolkata", slotDuration: 45, bufferMinutes: 15, weeklyHours: { mon: [["09:00", "11:30"]] } });
    const day = daySlots(r, "2026-06-15", LONG_AGO, []);
    expect(day.slot_duration).toBe(45);
    expect(day.business_hours).toBe("9:00 AM - 11:30 AM");
    // 11:00 + 45 min = 11:45 would run past 11:30.
    expect(day.times).toEqual([
      { time: "09:00", start: z("2026-06-15T03:30"), end: z("2026-06-15T04:15") },
      { time: "10:00", start: z("2026-06-15T04:30"), end: z("2026-06-15T05:15") },
    ]);
  });

  it("Kathmandu +5:45, PM labels and a range ending at 24:00 (the next local midnight)", () => {
    const r = rules({
      timezone: "Asia/Kathmandu",
      slotDuration: 30,
      weeklyHours: {
        mon: [
          ["13:30", "15:00"],
          ["23:00", "24:00"],
        ],
      },
    });
    const day = daySlots(r, "2026-06-15", LONG_AGO, []);
    expect(day.business_hours).toBe("1:30 PM - 3:00 PM, 11:00 PM - 12:00 AM");
    expect(day.slots).toEqual(["1:30 PM", "2:00 PM", "2:30 PM", "11:00 PM", "11:30 PM"]);
    expect(day.times.map((t) => t.time)).toEqual(["13:30", "14:00", "14:30", "23:00", "23:30"]);
    expect(starts(day)).toEqual([z("2026-06-15T07:45"), z("2026-06-15T08:15"), z("2026-06-15T08:45"), z("2026-06-15T17:15"), z("2026-06-15T17:45")]);
    expect(day.times.at(-1)?.end).toBe(z("2026-06-15T18:15"));
  });

  it("several ranges a day and the business-hours label", () => {
    const r = rules({
      slotDuration: 90,
      weeklyHours: {
        mon: [
          ["09:00", "12:00"],
          ["13:00", "17:30"],
        ],
      },
    });
    const day = daySlots(r, "2026-06-15", LONG_AGO, []);
    expect(day.business_hours).toBe("9:00 AM - 12:00 PM, 1:00 PM - 5:30 PM");
    expect(day.slots).toEqual(["9:00 AM", "10:30 AM", "1:00 PM", "2:30 PM", "4:00 PM"]);
    expect(starts(day)).toEqual([z("2026-06-15T13:00"), z("2026-06-15T14:30"), z("2026-06-15T17:00"), z("2026-06-15T18:30"), z("2026-06-15T20:00")]);
  });

  it("busy intervals remove their slots, and with the buffer their neighbours", () => {
    // 30-minute slots, 15-minute buffer: 09:00, 09:45, 10:30, 11:15 EDT = 13:00Z, 13:45Z, 14:30Z, 15:15Z.
    const r = rules({ slotDuration: 30, bufferMinutes: 15, weeklyHours: { mon: [["09:00", "12:00"]] } });
    expect(daySlots(r, "2026-06-15", LONG_AGO, []).slots).toEqual(["9:00 AM", "9:45 AM", "10:30 AM", "11:15 AM"]);

    // A booking on the 09:45 slot: widened to 09:30-10:30, which only touches its neighbours.
    const onGrid: Busy[] = [{ start: new Date(z("2026-06-15T13:45")), end: new Date(z("2026-06-15T14:15")) }];
    expect(daySlots(r, "2026-06-15", LONG_AGO, onGrid).slots).toEqual(["9:00 AM", "10:30 AM", "11:15 AM"]);

    // 10:00-10:20 widened to 09:45-10:35 removes 09:45 and, through the buffer, 10:30.
    const offGrid: Busy[] = [{ start: new Date(z("2026-06-15T14:00")), end: new Date(z("2026-06-15T14:20")) }];
    const day = daySlots(r, "2026-06-15", LONG_AGO, offGrid);
    expect(day.slots).toEqual(["9:00 AM", "11:15 AM"]);
    expect(starts(day)).toEqual([z("2026-06-15T13:00"), z("2026-06-15T15:15")]);
  });
});

describe("daySlots windows: notice, past, horizon, closed dates", () => {
  const r = rules({ slotDuration: 30, minNoticeMinutes: 60, horizonDays: 2, weeklyHours: weekdays([["09:00", "12:00"]]) });

  it("leaves out past slots and slots inside the minimum notice", () => {
    // now 09:10 EDT: earliest start 10:10, so 10:30 onwards.
    expect(daySlots(r, "2026-06-15", new Date(z("2026-06-15T13:10")), []).slots).toEqual(["10:30 AM", "11:00 AM", "11:30 AM"]);
    // Exactly now + notice is allowed.
    expect(daySlots(r, "2026-06-15", new Date(z("2026-06-15T13:00")), []).slots[0]).toBe("10:00 AM");
    // A past day has no slots but keeps its hours.
    const past = daySlots(r, "2026-06-12", new Date(z("2026-06-15T13:00")), []);
    expect(past.slots).toEqual([]);
    expect(past.business_hours).toBe("9:00 AM - 12:00 PM");
  });

  it("gives no slots after today + horizonDays, today taken in the zone", () => {
    // 02:00Z on the 16th is still 22:00 on Monday the 15th in New York: the horizon ends on the 17th.
    const now = new Date(z("2026-06-16T02:00"));
    expect(localDateOf("America/New_York", now)).toBe("2026-06-15");
    expect(daySlots(r, "2026-06-17", now, []).slots).toHaveLength(6);
    expect(daySlots(r, "2026-06-18", now, []).slots).toEqual([]);
    // In Kolkata the same instant is already the 16th, so the 18th is still inside.
    expect(daySlots({ ...r, timezone: "Asia/Kolkata" }, "2026-06-18", now, []).slots).toHaveLength(6);
  });

  it("closed dates and weekdays without hours are Closed", () => {
    const closed = daySlots({ ...r, closedDates: ["2026-06-16"] }, "2026-06-16", LONG_AGO, []);
    expect(closed).toEqual({
      date: "2026-06-16",
      day: "Tuesday",
      timezone: "America/New_York",
      slots: [],
      business_hours: "Closed",
      slot_duration: 30,
      times: [],
    });
    expect(daySlots(r, "2026-06-20", LONG_AGO, []).business_hours).toBe("Closed");
    expect(() => daySlots(r, "2026-02-30", LONG_AGO, [])).toThrow(RangeError);
  });
});

describe("daySchedule", () => {
  it("lays the whole grid and says why each slot is not offered: booked (naming it), buffer, notice; the available ones are daySlots'", () => {
    // Kolkata (+5:30), 09:00-12:00 in 30-minute slots with a 15-minute buffer: 09:00, 09:45, 10:30, 11:15.
    const r = rules({ timezone: "Asia/Kolkata", weeklyHours: weekdays([["09:00", "12:00"]]), slotDuration: 30, bufferMinutes: 15, minNoticeMinutes: 60 });
    const now = new Date("2026-12-14T03:00:00Z"); // Monday 08:30 local: 09:00 is inside the hour's notice.
    const held = [{ id: "bkg_A", start: new Date("2026-12-14T05:00:00Z"), end: new Date("2026-12-14T05:30:00Z") }]; // 10:30-11:00
    const day = daySchedule(r, "2026-12-14", now, held);
    expect(day).toMatchObject({ date: "2026-12-14", day: "Monday", business_hours: "9:00 AM - 12:00 PM" });
    expect(day.slots.map((s) => [s.time, s.label, s.status, s.booking_id])).toEqual([
      ["09:00", "9:00 AM", "unavailable", null],
      ["09:45", "9:45 AM", "available", null],
      ["10:30", "10:30 AM", "booked", "bkg_A"],
      ["11:15", "11:15 AM", "available", null],
    ]);
    const free = daySlots(r, "2026-12-14", now, held);
    expect(day.slots.filter((s) => s.status === "available").map(({ time, start, end }) => ({ time, start, end }))).toEqual(free.times);
    // A 30-minute buffer makes the slots beside the booking unavailable, not booked.
    const wide = daySchedule({ ...r, bufferMinutes: 30, minNoticeMinutes: 0 }, "2026-12-14", now, [
      { id: "bkg_B", start: new Date("2026-12-14T04:30:00Z"), end: new Date("2026-12-14T05:00:00Z") }, // 10:00-10:30
    ]);
    expect(wide.slots.map((s) => [s.time, s.status])).toEqual([
      ["09:00", "available"],
      ["10:00", "booked"],
      ["11:00", "available"],
    ]);
  });

  it("has no slots on a closed date and only unavailable ones past the horizon", () => {
    const r = rules({ weeklyHours: weekdays([["09:00", "11:00"]]), horizonDays: 2, closedDates: ["2026-12-15"] });
    const now = new Date("2026-12-14T12:00:00Z"); // Monday 07:00 in New York: bookable through Wednesday the 16th.
    expect(daySchedule(r, "2026-12-15", now, [])).toMatchObject({ business_hours: "Closed", slots: [] });
    expect(daySchedule(r, "2026-12-13", now, []).slots).toEqual([]); // Sunday: no hours
    expect(daySchedule(r, "2026-12-18", now, []).slots.map((s) => s.status)).toEqual(["unavailable", "unavailable"]);
    expect(daySchedule(r, "2026-12-16", now, []).slots.map((s) => s.status)).toEqual(["available", "available"]);
  });
});

describe("slotsBetween", () => {
  const r = rules({ weeklyHours: { sat: [["09:00", "10:00"]], sun: [["09:00", "10:00"]], mon: [["09:00", "10:00"]] } });

  it("answers one day per local date, inclusive, across a DST change", () => {
    const result = slotsBetween(r, "2026-03-07", "2026-03-09", LONG_AGO, []);
    if (!result.ok) throw new Error(result.message);
    expect(result.days.map((d) => [d.date, d.day, starts(d)])).toEqual([
      ["2026-03-07", "Saturday", [z("2026-03-07T14:00")]],
      ["2026-03-08", "Sunday", [z("2026-03-08T13:00")]],
      ["2026-03-09", "Monday", [z("2026-03-09T13:00")]],
    ]);
  });

  it("allows 31 days and refuses 32 or a reversed range", () => {
    const ok = slotsBetween(r, "2026-07-01", "2026-07-31", LONG_AGO, []);
    expect(ok.ok && ok.days.length).toBe(31);
    expect(ok.ok && ok.days.at(-1)?.date).toBe("2026-07-31");
    expect(slotsBetween(r, "2026-07-01", "2026-08-01", LONG_AGO, [])).toMatchObject({ ok: false, reason: "range_too_long" });
    expect(slotsBetween(r, "2026-07-02", "2026-07-01", LONG_AGO, [])).toMatchObject({ ok: false, reason: "invalid_range" });
    expect(slotsBetween(r, "2026-7-1", "2026-07-01", LONG_AGO, [])).toMatchObject({ ok: false, reason: "invalid_range" });
  });
});

describe("checkBookingStart", () => {
  // Weekdays 09:00-12:00 and 13:00-17:30 EDT, 30-minute slots and 15-minute buffers (a 45-minute grid).
  const r = rules({
    slotDuration: 30,
    bufferMinutes: 15,
    minNoticeMinutes: 60,
    horizonDays: 30,
    closedDates: ["2026-06-17"],
    weeklyHours: weekdays([
      ["09:00", "12:00"],
      ["13:00", "17:30"],
    ]),
  });
  const now = new Date(z("2026-06-15T12:00")); // Monday 08:00 EDT
  const check = (iso: string, slots = 1) => checkBookingStart(r, new Date(z(iso)), slots, now);

  it("accepts a slot start and computes the multi-slot end with the buffers between", () => {
    expect(check("2026-06-16T13:45")).toEqual({ ok: true, end: new Date(z("2026-06-16T14:15")) });
    // 3 x 30 + 2 x 15 = 120 minutes: 09:00-11:00 EDT.
    expect(check("2026-06-16T13:00", 3)).toEqual({ ok: true, end: new Date(z("2026-06-16T15:00")) });
    expect(check("2026-06-16T14:30", 2)).toEqual({ ok: true, end: new Date(z("2026-06-16T15:45")) });
    // The afternoon grid starts again at 13:00: 13:45 EDT.
    expect(check("2026-06-16T17:45")).toEqual({ ok: true, end: new Date(z("2026-06-16T18:15")) });
  });

  it("refuses each reason", () => {
    expect(check("2026-06-15T11:00")).toMatchObject({ ok: false, reason: "in_past" });
    expect(check("2026-06-15T12:30")).toMatchObject({ ok: false, reason: "inside_notice" });
    expect(check("2026-07-16T13:00")).toMatchObject({ ok: false, reason: "beyond_horizon" });
    expect(check("2026-06-17T13:00")).toMatchObject({ ok: false, reason: "closed_day" });
    expect(check("2026-06-20T13:00")).toMatchObject({ ok: false, reason: "closed_day" });
    expect(check("2026-06-16T16:15")).toMatchObject({ ok: false, reason: "outside_hours" }); // 12:15, lunch
    expect(check("2026-06-16T12:00")).toMatchObject({ ok: false, reason: "outside_hours" }); // 08:00
    expect(check("2026-06-16T13:30")).toMatchObject({ ok: false, reason: "not_on_slot_boundary" }); // 09:30
    // 10:30 + 120 minutes = 12:30, past the end of the morning range.
    expect(check("2026-06-16T14:30", 3)).toMatchObject({ ok: false, reason: "outside_hours" });
    const refused = check("2026-06-16T13:30");
    expect(!refused.ok && refused.message.length).toBeGreaterThan(0);
    expect(() => check("2026-06-16T13:00", 0)).toThrow(RangeError);
  });

  it("follows the same DST rule as daySlots", () => {
    const fall = rules({ weeklyHours: { sun: [["01:00", "03:00"]] } });
    // The second 1:00 AM (EST) is a slot start; a two-slot booking from it runs to 03:00 EST.
    expect(checkBookingStart(fall, new Date(z("2026-11-01T06:00")), 2, LONG_AGO)).toEqual({
      ok: true,
      end: new Date(z("2026-11-01T08:00")),
    });
    expect(checkBookingStart(fall, new Date(z("2026-11-01T06:30")), 1, LONG_AGO)).toMatchObject({
      reason: "not_on_slot_boundary",
    });
    expect(checkBookingStart(fall, new Date(z("2026-11-01T07:00")), 2, LONG_AGO)).toMatchObject({ reason: "outside_hours" });
  });
});
