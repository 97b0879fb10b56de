import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { assertCan } from "../../identity/auth/principal";
import type { Assistant } from "../assistants/schemas";
import { getAssistantInOrg } from "../assistants/service";
import { type BookingRules, type DaySlots, daySlots, localDateOf, slotsBetween } from "./slots";

/** The booking rules an assistant's settings stand for. */
export function bookingRules(assistant: Assistant): BookingRules {
  return {
    timezone: assistant.timezone,
    weeklyHours: assistant.weekly_hours,
    slotDuration: assistant.slot_duration,
    bufferMinutes: assistant.buffer_minutes,
    minNoticeMinutes: assistant.min_notice_minutes,
    horizonDays: assistant.horizon_days,
    closedDates: assistant.closed_dates,
  };
}

/**
 * Free slots of one local day (default today in the assistant's zone) or of `from`..`to` (at most
 * 31 days). Bookings are not stored yet, so every slot the rules allow is free; the bookings
 * table will supply the busy intervals here.
 */
export async function getAvailability(
  ctx: ServiceCtx,
  assistantId: string,
  input: { date?: string; from?: string; to?: string },
): Promise<DaySlots | { data: DaySlots[] }> {
  assertCan(ctx, "assistants:read");
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const rules = bookingRules(assistant);
  const now = ctx.now();
  if (input.from && input.to) {
    const range = slotsBetween(rules, input.from, input.to, now, []);
    if (!range.ok) throw new Unprocessable([{ path: range.reason === "range_too_long" ? "to" : "from", message: range.message }]);
    return { data: range.days };
  }
  return daySlots(rules, input.date ?? localDateOf(rules.timezone, now), now, []);
}
