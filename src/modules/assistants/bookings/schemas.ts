import { z } from "@hono/zod-openapi";
import { isRealDate } from "../assistants/schemas";

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
