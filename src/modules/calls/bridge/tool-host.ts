/**
 * The call tools' host over our services, for one call: bookings through the bookings service
 * (its exclusion constraint still forbids a double booking), knowledge through the assistant's
 * index, questions through the guarded `askDatabase`. Answers are cut down to what the model
 * needs to speak: a phone caller hears a sentence, not a result set.
 */
import type { ServiceCtx } from "../../../lib/context";
import { E164 } from "../../../lib/phone";
import type { Assistant } from "../../assistants/assistants/schemas";
import type { Booking } from "../../assistants/bookings/schemas";
import { cancelBooking, createBooking, getAvailability, getBooking, listBookings } from "../../assistants/bookings/service";
import { addDays } from "../../assistants/bookings/zone";
import { searchKnowledge } from "../../assistants/knowledge/search";
import { askDatabase } from "../../data/query/service";
import { getCall } from "../records/service";
import type { CallToolHost } from "./tools";

/** Slots offered to the model per day, passages per search, rows per answer. */
const MAX_SLOTS = 12;
const MAX_PASSAGES = 3;
const MAX_ROWS = 10;

/** A page of the bookings searched for the one a caller wants cancelled. */
const BOOKING_PAGE = 100;

/** What the call's system actor may do: read the assistant and its call, book and cancel, search, ask the linked database. */
export const CALL_PERMISSIONS = ["assistants:read", "assistants:write", "databases:query", "calls:read"] as const;

export function serviceToolHost(ctx: ServiceCtx, assistant: Pick<Assistant, "id" | "database_id">, callId: string): CallToolHost {
  return {
    async checkAvailability({ date }) {
      const day = await getAvailability(ctx, assistant.id, { date });
      if ("data" in day) return day;
      const times = day.times.slice(0, MAX_SLOTS).map((slot, i) => ({ label: day.slots[i], start: slot.start }));
      return { date: day.date, day: day.day, business_hours: day.business_hours, free: times, more: day.times.length > MAX_SLOTS };
    },
    async bookAppointment({ start, customer_name, details }) {
      // The caller's number, so the booking's confirmation and reminder reach them and they can
      // cancel it from that phone later; a withheld number ("anonymous") is no number.
      const caller = (await getCall(ctx, callId)).from;
      const phone = E164.test(caller) ? caller : undefined;
      const booking = await createBooking(ctx, assistant.id, { start, customer_name, details, phone }, { source: "call", sourceId: callId });
      return { id: booking.id, start: booking.start, end: booking.end, customer_name: booking.customer_name };
    },
    async cancelBooking({ booking_id, start }) {
      const caller = (await getCall(ctx, callId)).from;
      const booking = booking_id ? await getBooking(ctx, assistant.id, booking_id) : await bookingStartingAt(ctx, assistant.id, start ?? "", caller);
      // Anyone can phone the business: a caller cancels only what was booked from their number or on this call.
      if (!booking || !(booking.phone === caller || (booking.source === "call" && booking.source_id === callId))) {
        return { cancelled: false, error: "No appointment of this caller was found at that time." };
      }
      if (booking.status === "cancelled") return { cancelled: true, already: true, booking: spoken(booking) };
      // The bookings service's cancel: the slot is freed and the customer told, as from the dashboard.
      return { cancelled: true, booking: spoken(await cancelBooking(ctx, assistant.id, booking.id)) };
    },
    async searchKnowledge({ query }) {
      const found = await searchKnowledge(ctx, assistant.id, { q: query, k: MAX_PASSAGES, mode: "hybrid" });
      return { passages: found.data.map((hit) => ({ source: hit.filename, text: hit.snippet })) };
    },
    async askDatabase({ question }) {
      if (!assistant.database_id) return { error: "This business has no database to ask." };
      const result = await askDatabase(ctx, { database_id: assistant.database_id, prompt: question }, { source: "voice" });
      return {
        explanation: result.explanation,
        columns: result.columns.map((column) => column.name),
        rows: result.rows.slice(0, MAX_ROWS),
        row_count: result.row_count,
      };
    },
  };
}

/** The caller's confirmed booking of the assistant starting at `start` (a day either side covers any zone). */
async function bookingStartingAt(ctx: ServiceCtx, assistantId: string, start: string, caller: string): Promise<Booking | null> {
  const at = new Date(start).getTime();
  if (Number.isNaN(at)) return null;
  const day = new Date(at).toISOString().slice(0, 10);
  let cursor: string | undefined;
  for (;;) {
    const page = await listBookings(ctx, assistantId, {
      start_date: addDays(day, -1),
      end_date: addDays(day, 1),
      status: "confirmed",
      limit: BOOKING_PAGE,
      cursor,
    });
    const found = page.data.find((booking) => new Date(booking.start).getTime() === at && booking.phone === caller);
    if (found) return found;
    if (!page.next_cursor) return null;
    cursor = page.next_cursor;
  }
}

function spoken(booking: Booking) {
  return { id: booking.id, start: booking.start, customer_name: booking.customer_name, status: booking.status };
}
