/**
 * The call tools' host over our services, for one call: bookings through the bookings service
 * (its exclusion constraint still forbids a double booking), knowledge through the assistant's
 * index, questions through the guarded `askDatabase`. Answers are cut down to what the model
 * needs to speak: a phone caller hears a sentence, not a result set.
 */
import type { ServiceCtx } from "../../../lib/context";
import type { Assistant } from "../../assistants/assistants/schemas";
import { createBooking, getAvailability } from "../../assistants/bookings/service";
import { searchKnowledge } from "../../assistants/knowledge/search";
import { askDatabase } from "../../data/query/service";
import type { CallToolHost } from "./tools";

/** Slots offered to the model per day, passages per search, rows per answer. */
const MAX_SLOTS = 12;
const MAX_PASSAGES = 3;
const MAX_ROWS = 10;

/** What the call's system actor may do: read the assistant, book, search, ask the linked database. */
export const CALL_PERMISSIONS = ["assistants:read", "assistants:write", "databases:query"] as const;

export function serviceToolHost(ctx: ServiceCtx, assistant: Pick<Assistant, "id" | "database_id">, callId: string): CallToolHost {
  return {
    async checkAvailability({ date }) {
      const day = await getAvailability(ctx, assistant.id, { date });
      if ("data" in day) return day;
      const times = day.times.slice(0, MAX_SLOTS).map((slot, i) => ({ label: day.slots[i], start: slot.start }));
      return { date: day.date, day: day.day, business_hours: day.business_hours, free: times, more: day.times.length > MAX_SLOTS };
    },
    async bookAppointment({ start, customer_name, details }) {
      const booking = await createBooking(ctx, assistant.id, { start, customer_name, details }, { source: "call", sourceId: callId });
      return { id: booking.id, start: booking.start, end: booking.end, customer_name: booking.customer_name };
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
