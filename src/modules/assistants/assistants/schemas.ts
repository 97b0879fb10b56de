import { z } from "@hono/zod-openapi";
import { ASSISTANT_STATUSES, ASSISTANT_TOOLS, ASSISTANT_WEEKDAYS } from "../../../db/schema/assistants";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { E164 } from "../../../lib/phone";

export const ASSISTANT_ID_EXAMPLE = "ast_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const AGENT_ID_EXAMPLE = "agt_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const DATABASE_ID_EXAMPLE = "ldb_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

/** The provider voice ids `voice_type` stands for (OpenAI Realtime voices). */
export const VOICE_FOR_TYPE = { male: "ash", female: "shimmer" } as const;
export const DEFAULT_VOICE = VOICE_FOR_TYPE.female;
export const DEFAULT_TOOLS = ASSISTANT_TOOLS.filter((tool) => tool !== "ask_database");

const NO_NUL = "Must not contain NUL characters";
const noNul = (value: string) => !value.includes("\u0000");

/** Trimmed text of `min`..`max` characters without NUL bytes (Postgres text cannot hold them). */
function text(min: number, max: number) {
  return z.string().trim().min(min).max(max).refine(noNul, NO_NUL);
}

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const END_TIME = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `value` is YYYY-MM-DD and names a day that exists. */
export function isRealDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const [y, m, d] = value.split("-").map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Whether `Intl` knows the IANA zone name (it also accepts "UTC"). */
export function isTimeZone(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(value)) return false;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const minutes = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

const Time = z.string().regex(TIME, "A time HH:MM, 00:00 to 23:59").openapi({ description: "Local time HH:MM (24 h)", example: "09:00" });
const EndTime = z
  .string()
  .regex(END_TIME, "A time HH:MM, 00:00 to 24:00")
  .openapi({ description: "Local time HH:MM (24 h); 24:00 is midnight at the end of the day", example: "17:30" });
const Range = z.tuple([Time, EndTime]).openapi({ description: "An opening range [start, end), start before end", example: ["09:00", "12:00"] });

const DayRanges = z
  .array(Range)
  .max(24)
  .superRefine((ranges, ctx) => {
    ranges.forEach(([start, end], i) => {
      if (!TIME.test(start) || !END_TIME.test(end)) return;
      if (minutes(start) >= minutes(end)) ctx.addIssue({ code: "custom", path: [i], message: `The range starts at ${start}, not before its end ${end}` });
      const previous = ranges[i - 1];
      if (previous && END_TIME.test(previous[1]) && minutes(start) < minutes(previous[1])) {
        ctx.addIssue({
          code: "custom",
          path: [i],
          message: `The range starting ${start} overlaps or precedes the one ending ${previous[1]}; sort ranges and keep them apart`,
        });
      }
    });
  })
  .openapi({
    description: "The day's opening ranges, sorted and non-overlapping",
    example: [
      ["09:00", "12:00"],
      ["13:00", "17:30"],
    ],
  });

const WEEKLY_HOURS_EXAMPLE = {
  mon: [
    ["09:00", "12:00"],
    ["13:00", "17:30"],
  ],
  tue: [["09:00", "17:30"]],
  wed: [["09:00", "17:30"]],
  thu: [["09:00", "17:30"]],
  fri: [["09:00", "15:00"]],
};

const WeeklyHours = z
  .object(
    Object.fromEntries(ASSISTANT_WEEKDAYS.map((day) => [day, DayRanges.optional()])) as Record<
      (typeof ASSISTANT_WEEKDAYS)[number],
      z.ZodOptional<typeof DayRanges>
    >,
  )
  .openapi({ description: "Opening ranges per weekday (mon..sun); a weekday left out is closed", example: WEEKLY_HOURS_EXAMPLE });

const Name = text(1, 200).openapi({ description: "What the receptionist calls itself", example: "Ava" });
const BusinessName = text(1, 200).openapi({ description: "The business the assistant answers for", example: "Bright Smile Dental" });
const BusinessDescription = text(0, 2000).openapi({
  description: "What the business does, told to callers who ask",
  example: "A family dental clinic in downtown Austin",
});
const Timezone = z
  .string()
  .trim()
  .max(64)
  .refine(isTimeZone, "An IANA time zone name such as America/New_York, or UTC")
  .openapi({ description: "IANA time zone the weekly hours and closed dates are in", example: "America/Chicago" });
const SlotDuration = z.number().int().min(5).max(480).openapi({ description: "Minutes per booking slot, 5 to 480", example: 30 });
const BufferMinutes = z.number().int().min(0).max(240).openapi({ description: "Minutes kept free after each booking, 0 to 240", example: 10 });
const MinNotice = z
  .number()
  .int()
  .min(0)
  .max(43200)
  .openapi({ description: "A booking must start at least this many minutes from now, 0 to 43200", example: 120 });
const HorizonDays = z.number().int().min(1).max(365).openapi({ description: "How many days ahead bookings may be made, 1 to 365", example: 30 });
const ClosedDates = z
  .array(z.string().refine(isRealDate, "A real date YYYY-MM-DD"))
  .max(366)
  .openapi({ description: "Local dates (YYYY-MM-DD) with no bookings, e.g. holidays", example: ["2026-12-25"] });
const Language = z
  .string()
  .trim()
  .max(35)
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, "A BCP 47 language tag such as en or en-US")
  .openapi({ description: "BCP 47 language tag the assistant speaks", example: "en-US" });
const Greeting = text(1, 500).openapi({
  description: "What the assistant says first on a call",
  example: "Thanks for calling Bright Smile Dental, this is Ava. How can I help?",
});
const Instructions = text(1, 8000).openapi({
  description: "Extra instructions for the assistant",
  example: "Offer the earliest slot first. Never give medical advice.",
});
const Voice = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, "A provider voice id: letters, digits, _ . : -")
  .openapi({ description: "The speech provider's voice id (OpenAI Realtime: alloy, ash, ballad, coral, echo, sage, shimmer, verse)", example: "shimmer" });
const VoiceType = z.enum(["male", "female"]).openapi({
  description: `Shorthand for \`voice\`: male is ${VOICE_FOR_TYPE.male}, female is ${VOICE_FOR_TYPE.female} (the default)`,
  example: "female",
});
const Tools = z
  .array(z.enum(ASSISTANT_TOOLS))
  .max(ASSISTANT_TOOLS.length * 2)
  .openapi({ description: `What the assistant may do on a call; default all but ask_database`, example: [...DEFAULT_TOOLS] });
const DatabaseId = z
  .string()
  .max(100)
  .refine(noNul, NO_NUL)
  .openapi({ description: "A linked database of the organisation the assistant may answer questions from", example: DATABASE_ID_EXAMPLE });
const BusinessPhone = z
  .string()
  .trim()
  .regex(E164, "An E.164 phone number such as +15125550123")
  .openapi({ description: "The business's own number (E.164), e.g. to transfer calls to", example: "+15125550123" });
const Status = z.enum(ASSISTANT_STATUSES).openapi({ description: "active answers calls; archived answers nothing", example: "active" });

// The seed's simpler form. null means "not given", so a documented example body (all nulls) stays valid.
const AvailableDays = z
  .object({
    monday: z.boolean().optional(),
    tuesday: z.boolean().optional(),
    wednesday: z.boolean().optional(),
    thursday: z.boolean().optional(),
    friday: z.boolean().optional(),
    saturday: z.boolean().optional(),
    sunday: z.boolean().optional(),
  })
  .openapi({ description: "Days open from start_time to end_time", example: { monday: true, friday: true } });

const shorthandFields = {
  receptionist_name: Name.nullable().optional().openapi({ description: "Shorthand for `name`", example: null }),
  start_time: Time.nullable()
    .optional()
    .openapi({ description: "Shorthand for `weekly_hours`, with end_time and available_days: opening time on each available day", example: null }),
  end_time: EndTime.nullable().optional().openapi({ description: "Shorthand for `weekly_hours`: closing time on each available day", example: null }),
  available_days: AvailableDays.nullable()
    .optional()
    .openapi({ description: "Shorthand for `weekly_hours`: `{monday: true, ...}`, days open from start_time to end_time", example: null }),
  booking_duration_minutes: SlotDuration.nullable().optional().openapi({ description: "Shorthand for `slot_duration`", example: null }),
};

interface ShorthandInput {
  name?: unknown;
  weekly_hours?: unknown;
  slot_duration?: unknown;
  receptionist_name?: unknown;
  start_time?: string | null;
  end_time?: string | null;
  available_days?: unknown;
  booking_duration_minutes?: unknown;
}

const given = (value: unknown) => value !== undefined && value !== null;

/** 422 issues for a shorthand given beside its full form, or given in part. */
function checkShorthand(value: ShorthandInput, ctx: z.RefinementCtx): void {
  const both = (full: keyof ShorthandInput, short: keyof ShorthandInput) => {
    if (given(value[full]) && given(value[short])) ctx.addIssue({ code: "custom", path: [short], message: `Give ${full} or ${short}, not both` });
  };
  both("name", "receptionist_name");
  both("slot_duration", "booking_duration_minutes");
  const hours = (["start_time", "end_time", "available_days"] as const).filter((key) => given(value[key]));
  for (const key of hours) both("weekly_hours", key);
  if (hours.length > 0 && !given(value.weekly_hours)) {
    for (const key of ["start_time", "end_time", "available_days"] as const) {
      if (!given(value[key])) ctx.addIssue({ code: "custom", path: [key], message: "start_time, end_time and available_days go together" });
    }
    const { start_time: start, end_time: end } = value;
    if (start && end && TIME.test(start) && END_TIME.test(end) && minutes(start) >= minutes(end)) {
      ctx.addIssue({ code: "custom", path: ["end_time"], message: `end_time ${end} is not after start_time ${start}` });
    }
  }
}

export const CreateAssistantBody = z
  .object({
    name: Name.optional(),
    business_name: BusinessName,
    business_description: BusinessDescription.optional(),
    timezone: Timezone,
    weekly_hours: WeeklyHours.optional(),
    slot_duration: SlotDuration.optional(),
    buffer_minutes: BufferMinutes.optional(),
    min_notice_minutes: MinNotice.optional(),
    horizon_days: HorizonDays.optional(),
    closed_dates: ClosedDates.optional(),
    language: Language.optional(),
    greeting: Greeting.optional(),
    instructions: Instructions.optional(),
    voice: Voice.optional(),
    voice_type: VoiceType.nullable().optional().openapi({ description: VoiceType.description, example: null }),
    tools: Tools.optional(),
    // The example is null so a documented example body creates an assistant in any organisation.
    database_id: DatabaseId.nullable().optional().openapi({ example: null }),
    business_phone: BusinessPhone.nullable().optional(),
    ...shorthandFields,
  })
  .superRefine((value, ctx) => {
    checkShorthand(value, ctx);
    if (!given(value.name) && !given(value.receptionist_name)) ctx.addIssue({ code: "custom", path: ["name"], message: "Give name (or receptionist_name)" });
    if (given(value.voice) && given(value.voice_type)) ctx.addIssue({ code: "custom", path: ["voice_type"], message: "Give voice or voice_type, not both" });
  })
  .openapi("CreateAssistantRequest");

export const UpdateAssistantBody = z
  .object({
    name: Name.optional(),
    business_name: BusinessName.optional(),
    business_description: BusinessDescription.nullable().optional(),
    timezone: Timezone.optional(),
    weekly_hours: WeeklyHours.optional().openapi({ description: "Replaces the weekly hours" }),
    slot_duration: SlotDuration.optional(),
    buffer_minutes: BufferMinutes.optional(),
    min_notice_minutes: MinNotice.optional(),
    horizon_days: HorizonDays.optional(),
    closed_dates: ClosedDates.optional().openapi({ description: "Replaces the closed dates" }),
    language: Language.optional(),
    greeting: Greeting.nullable().optional(),
    instructions: Instructions.nullable().optional(),
    voice: Voice.optional(),
    tools: Tools.optional(),
    database_id: DatabaseId.nullable().optional().openapi({ example: null }),
    business_phone: BusinessPhone.nullable().optional(),
    status: Status.optional().openapi({ description: "active brings an archived assistant (and its agent) back; archived archives it" }),
    ...shorthandFields,
  })
  .superRefine(checkShorthand)
  .openapi("UpdateAssistantRequest");

export const AssistantSchema = z
  .object({
    id: z.string().openapi({ description: "Assistant id", example: ASSISTANT_ID_EXAMPLE }),
    name: z.string().openapi({ description: "What the receptionist calls itself", example: "Ava" }),
    business_name: z.string().openapi({ description: "The business the assistant answers for", example: "Bright Smile Dental" }),
    business_description: z.string().nullable().openapi({ description: "What the business does", example: "A family dental clinic in downtown Austin" }),
    timezone: z.string().openapi({ description: "IANA time zone", example: "America/Chicago" }),
    weekly_hours: z
      .partialRecord(z.enum(ASSISTANT_WEEKDAYS), z.array(z.tuple([z.string(), z.string()])))
      .openapi({ description: "Opening ranges per weekday; a weekday left out is closed", example: WEEKLY_HOURS_EXAMPLE }),
    slot_duration: z.number().int().openapi({ description: "Minutes per booking slot", example: 30 }),
    buffer_minutes: z.number().int().openapi({ description: "Minutes kept free after each booking", example: 10 }),
    min_notice_minutes: z.number().int().openapi({ description: "Minimum minutes between now and a booking's start", example: 120 }),
    horizon_days: z.number().int().openapi({ description: "How many days ahead bookings may be made", example: 30 }),
    closed_dates: z.array(z.string()).openapi({ description: "Local dates with no bookings, sorted", example: ["2026-12-25"] }),
    language: z.string().openapi({ description: "BCP 47 language tag", example: "en-US" }),
    greeting: z
      .string()
      .nullable()
      .openapi({ description: "What the assistant says first on a call", example: "Thanks for calling Bright Smile Dental, this is Ava." }),
    instructions: z.string().nullable().openapi({ description: "Extra instructions for the assistant", example: "Offer the earliest slot first." }),
    voice: z.string().openapi({ description: "The speech provider's voice id", example: "shimmer" }),
    tools: z.array(z.enum(ASSISTANT_TOOLS)).openapi({ description: "What the assistant may do on a call", example: [...DEFAULT_TOOLS] }),
    database_id: z.string().nullable().openapi({ description: "The linked database it answers from, or null", example: DATABASE_ID_EXAMPLE }),
    business_phone: z.string().nullable().openapi({ description: "The business's own number (E.164), or null", example: "+15125550123" }),
    phone_numbers: z.array(z.string()).openapi({ description: "Numbers callers reach the assistant on (read-only; assigned separately)", example: [] }),
    agent_id: z.string().openapi({ description: "The usage agent that meters this assistant", example: AGENT_ID_EXAMPLE }),
    status: z.enum(ASSISTANT_STATUSES).openapi({ description: "active or archived", example: "active" }),
    created_at: z.string().openapi({ description: "When the assistant was added", example: "2026-05-01T11:00:00.000Z" }),
    updated_at: z.string().openapi({ description: "When the assistant last changed", example: "2026-05-01T11:00:00.000Z" }),
  })
  .openapi("Assistant");

export const AssistantList = pageSchema(AssistantSchema, "AssistantList", { data: "Assistants, oldest first; archived ones only with `status=archived`" });

export const AssistantListQuery = pageQuery({ defaultLimit: 50, cursorExample: ASSISTANT_ID_EXAMPLE }).extend({
  cursor: z
    .string()
    .min(1)
    .max(100)
    .refine(noNul, NO_NUL)
    .optional()
    .openapi({ description: "`next_cursor` of the previous page", example: ASSISTANT_ID_EXAMPLE }),
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine(noNul, NO_NUL)
    .optional()
    .openapi({ description: "Matches name or business name, case-insensitive", example: "dental" }),
  status: z.enum(ASSISTANT_STATUSES).optional().openapi({ description: "Only assistants with this status (without it: active)", example: "active" }),
});

const AssistantIdPath = pathId("id", "ast", "Assistant id", ASSISTANT_ID_EXAMPLE);
export const AssistantIdParam = z.object({ id: AssistantIdPath });

export type CreateAssistantInput = z.infer<typeof CreateAssistantBody>;
export type UpdateAssistantInput = z.infer<typeof UpdateAssistantBody>;
export type AssistantListInput = z.infer<typeof AssistantListQuery>;
/** An assistant as the API and other modules (the phone call Durable Object) see it. */
export type Assistant = z.infer<typeof AssistantSchema>;
