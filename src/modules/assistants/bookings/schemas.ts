import { z } from "@hono/zod-openapi";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { E164 } from "../../../lib/phone";
import { ASSISTANT_ID_EXAMPLE, isRealDate } from "../assistants/schemas";
import { MAX_RANGE_DAYS } from "./slots";

const LocalDate = z.string().refine(isRealDate, "A real date YYYY-MM-DD");

export const SlotsQuery = z
  .object({
    date: LocalDate.optional().openapi({ description: "One local day of the assistant (default: today in its zone)", example: "2026-12-14" }),
    from: LocalDate.optional().openapi({ description: "First local day of a range (with `to`, at most 31 days)", example: "2026-12-14" }),
    to: LocalDate.optional().openapi({ description: "Last local day of the range, inclusive", example: "2026-12-20" }),
  })
  .superRefine((query, ctx) => {
    if (query.date && (query.from || query.to)) ctx.addIssue({ code: "custom", path: ["date"], message: "Give either date or from/to, not both" });
    if ((query.from === undefined) !== (query.to === undefined))
      ctx.addIssue({ code: "custom", path: [query.from ? "to" : "from"], message: "from and to go together" });
  });

const SlotTime = z
  .object({
    time: z.string().openapi({ description: "Local wall time, 24-hour", example: "09:00" }),
    start: z.string().openapi({ description: "UTC instant the slot starts (what a booking takes)", example: "2026-12-14T14:00:00.000Z" }),
    end: z.string().openapi({ description: "UTC instant the slot ends", example: "2026-12-14T14:30:00.000Z" }),
  })
  .openapi("SlotTime");

export const DaySlotsSchema = z
  .object({
    date: z.string().openapi({ description: "The local day", example: "2026-12-14" }),
    day: z.string().openapi({ description: "Its weekday", example: "Monday" }),
    timezone: z.string().openapi({ description: "The assistant's IANA zone", example: "America/New_York" }),
    slots: z.array(z.string()).openapi({ description: "Free slots as local times", example: ["9:00 AM", "9:30 AM"] }),
    business_hours: z.string().openapi({ description: "That day's opening hours, or Closed", example: "9:00 AM - 12:00 PM" }),
    slot_duration: z.number().int().openapi({ description: "Minutes per slot", example: 30 }),
    times: z.array(SlotTime).openapi({ description: "The free slots with their UTC instants" }),
  })
  .openapi("DaySlots");

export const SlotRangeSchema = z.object({ data: z.array(DaySlotsSchema).openapi({ description: "One entry per local day, in order" }) }).openapi("SlotRange");

export type SlotsInput = z.infer<typeof SlotsQuery>;

// ---- bookings ----------------------------------------------------------------------------

export const BOOKING_ID_EXAMPLE = "bkg_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const NO_NUL = "Must not contain NUL characters";
const noNul = (value: string) => !value.includes("\u0000");
const text = (min: number, max: number) => z.string().trim().min(min).max(max).refine(noNul, NO_NUL);

const Notify = z.enum(["sms", "whatsapp", "email", "none"]).optional().openapi({
  description:
    "How to tell the customer: sms or whatsapp to `phone`, email to `email`, none for no message. Default: SMS when the booking has a phone, else email when it has an email, else nothing. A message that cannot be sent never fails the booking.",
  example: "sms",
});

export const CreateBookingBody = z
  .object({
    start: z.iso
      .datetime({ offset: true })
      .openapi({ description: "UTC instant the booking starts: one of the slots' `times[].start`", example: "2026-12-14T03:30:00.000Z" }),
    slots: z.number().int().min(1).max(8).default(1).openapi({ description: "Consecutive slots to take, 1 to 8", example: 1 }),
    customer_name: text(1, 200).openapi({ description: "Who the booking is for", example: "Asha Rao" }),
    phone: z
      .string()
      .regex(E164, "An E.164 phone number such as +15125550123")
      .optional()
      .openapi({ description: "Customer's phone (E.164)", example: "+919812345678" }),
    email: z.string().trim().max(254).email().refine(noNul, NO_NUL).optional().openapi({ description: "Customer's email", example: "asha@example.com" }),
    details: text(0, 2000).optional().openapi({ description: "What the booking is about", example: "Cleaning" }),
    notify: Notify,
  })
  .openapi("CreateBooking");

export const BookingSchema = z
  .object({
    id: z.string().openapi({ description: "Booking id", example: BOOKING_ID_EXAMPLE }),
    assistant_id: z.string().openapi({ description: "The assistant booked", example: ASSISTANT_ID_EXAMPLE }),
    start: z.string().openapi({ description: "UTC instant it starts", example: "2026-12-14T03:30:00.000Z" }),
    end: z.string().openapi({ description: "UTC instant it ends", example: "2026-12-14T04:00:00.000Z" }),
    slots: z.number().int().openapi({ description: "Slots taken", example: 1 }),
    customer_name: z.string().openapi({ description: "Who it is for", example: "Asha Rao" }),
    phone: z.string().nullable().openapi({ description: "Customer's phone or null", example: "+919812345678" }),
    email: z.string().nullable().openapi({ description: "Customer's email or null", example: "asha@example.com" }),
    details: z.string().nullable().openapi({ description: "Notes or null", example: "Cleaning" }),
    source: z.enum(["api", "call", "chat"]).openapi({ description: "Where the booking was made", example: "api" }),
    source_id: z.string().nullable().openapi({ description: "The call or chat that made it, or null", example: null }),
    status: z.enum(["confirmed", "cancelled"]).openapi({ description: "confirmed holds the slot; cancelled frees it", example: "confirmed" }),
    notify: z.enum(["sms", "whatsapp", "email", "none"]).nullable().openapi({
      description: "The channel asked for its messages, reminder included (a reschedule or cancel can change it); null: SMS to a phone, else email",
      example: "whatsapp",
    }),
    created_at: z.string().openapi({ description: "When it was made", example: "2026-12-10T10:00:00.000Z" }),
    updated_at: z.string().openapi({ description: "Last change", example: "2026-12-10T10:00:00.000Z" }),
  })
  .openapi("Booking");

const ScheduledSlotSchema = SlotTime.extend({
  label: z.string().openapi({ description: "Local time as a label", example: "9:00 AM" }),
  status: z.enum(["available", "booked", "unavailable"]).openapi({
    description:
      "available: can be booked now; booked: a confirmed booking holds it; unavailable: past, inside the notice, beyond the horizon or in a booking's buffer",
    example: "booked",
  }),
  booking_id: z.string().nullable().openapi({ description: "The booking holding a booked slot, else null", example: BOOKING_ID_EXAMPLE }),
}).openapi("ScheduledSlot");

const DayScheduleSchema = z
  .object({
    date: z.string().openapi({ description: "The local day", example: "2026-12-14" }),
    day: z.string().openapi({ description: "Its weekday", example: "Monday" }),
    business_hours: z.string().openapi({ description: "That day's opening hours, or Closed", example: "9:00 AM - 12:00 PM" }),
    slots: z.array(ScheduledSlotSchema).openapi({ description: "Every slot of the day's grid, in time order (none when closed)" }),
  })
  .openapi("DaySchedule");

export const BookingList = pageSchema(BookingSchema, "BookingPage", { data: "Bookings starting in the range, oldest made first" })
  .extend({
    start_date: z.string().openapi({ description: "First local day covered (default today in the assistant's zone)", example: "2026-12-14" }),
    end_date: z.string().openapi({ description: "Last local day covered, inclusive (default start_date + 7)", example: "2026-12-21" }),
    timezone: z.string().openapi({ description: "The assistant's IANA zone the days are in", example: "America/New_York" }),
    days: z.array(DayScheduleSchema).openapi({ description: "Each local day of the range with the state of every slot; the same on every page" }),
  })
  .openapi("BookingList");

export const BookingListQuery = pageQuery({ defaultLimit: 50, cursorExample: BOOKING_ID_EXAMPLE })
  .extend({
    cursor: z
      .string()
      .min(1)
      .max(100)
      .refine(noNul, NO_NUL)
      .optional()
      .openapi({ description: "`next_cursor` of the previous page", example: BOOKING_ID_EXAMPLE }),
    status: z.enum(["confirmed", "cancelled"]).optional().openapi({ description: "Only bookings with this status", example: "confirmed" }),
    start_date: LocalDate.optional().openapi({
      description: "First local day of the assistant (default: today in its zone, or end_date - 7)",
      example: "2026-12-14",
    }),
    end_date: LocalDate.optional().openapi({
      description: `Last local day, inclusive (default: start_date + 7); at most ${MAX_RANGE_DAYS} days in all`,
      example: "2026-12-21",
    }),
  })
  .superRefine((query, ctx) => {
    if (query.start_date && query.end_date && query.end_date < query.start_date)
      ctx.addIssue({ code: "custom", path: ["end_date"], message: "end_date is before start_date" });
  });

export const BookingIdParam = z.object({
  id: z
    .string()
    .max(100)
    .openapi({ param: { name: "id", in: "path" }, description: "Assistant id", example: ASSISTANT_ID_EXAMPLE }),
  booking_id: pathId("booking_id", "bkg", "Booking id", BOOKING_ID_EXAMPLE),
});

export const RescheduleBookingBody = CreateBookingBody.pick({ start: true, notify: true })
  .extend({ slots: z.number().int().min(1).max(8).optional().openapi({ description: "Slots to take (default: as before)", example: 1 }) })
  .openapi("RescheduleBooking");

/** The optional body of a cancel: an empty request cancels with the default message. */
export const CancelBookingBody = CreateBookingBody.pick({ notify: true }).openapi("CancelBooking");

export type CreateBookingInput = z.input<typeof CreateBookingBody>;
export type RescheduleBookingInput = z.infer<typeof RescheduleBookingBody>;
export type BookingNotifyInput = z.infer<typeof Notify>;
export type BookingListInput = z.infer<typeof BookingListQuery>;
export type Booking = z.infer<typeof BookingSchema>;
export type BookingListPage = z.infer<typeof BookingList>;
