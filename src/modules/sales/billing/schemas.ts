import { z } from "@hono/zod-openapi";

const EVENT_ID_EXAMPLE = "cbu_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

function wholeNumber(min: number, max: number, fallback: number, description: string) {
  return z.coerce
    .number()
    .int()
    .min(min)
    .max(max)
    .default(fallback)
    .openapi({ description: `${description}, ${min} to ${max}`, example: fallback });
}

const Days = wholeNumber(1, 366, 30, "Whole UTC days back from today, today included");

// `contact_id=` with nothing after it means no filter, as if it had been left out.
const ContactId = z
  .string()
  .max(200)
  .regex(/^\P{Cc}*$/u, "Up to 200 printable characters")
  .optional()
  .transform((value) => (value === "" ? undefined : value))
  .openapi({ description: "Only this contact's conversations (empty: every contact)", example: "visitor-8812" });

export const SummaryQuery = z.object({
  days: Days,
  recent_limit: wholeNumber(1, 1000, 60, "How many of the latest calls to include"),
  contact_id: ContactId,
});

export const EventsQuery = z.object({
  days: Days,
  limit: wholeNumber(1, 1000, 200, "Calls per page"),
  cursor: z
    .string()
    .regex(/^cbu_[0-9A-HJKMNP-TV-Z]{26}$/, "A next_cursor from an earlier page")
    .optional()
    .openapi({ description: "`next_cursor` of the previous page (older calls)", example: EVENT_ID_EXAMPLE }),
  contact_id: ContactId,
});

const Cost = z.string().openapi({ description: "US dollars from the price map, six decimals", example: "0.001234" });

const Totals = {
  calls: z.number().int().openapi({ example: 42 }),
  input_tokens: z.number().int().openapi({ example: 51200 }),
  output_tokens: z.number().int().openapi({ example: 8400 }),
  credits: z.number().int().openapi({ description: "Credits charged (1 credit = USD 0.001)", example: 17 }),
  cost_usd: Cost,
};

export const UsageEvent = z
  .object({
    id: z.string().openapi({ example: EVENT_ID_EXAMPLE }),
    at: z.string().openapi({ example: "2026-05-01T12:00:00.000Z" }),
    conversation_id: z.string().nullable().openapi({ example: "scv_01JD3X6W6X8Q3M1B0V4T2Y9ZKB" }),
    contact_id: z.string().nullable().openapi({ example: "visitor-8812" }),
    agent: z.string().openapi({ description: "planner, memory, product, knowledge or reply", example: "reply" }),
    provider: z.string().openapi({ example: "anthropic" }),
    model: z.string().openapi({ example: "claude-sonnet-4-5" }),
    input_tokens: z.number().int().openapi({ example: 1200 }),
    output_tokens: z.number().int().openapi({ example: 80 }),
    credits: z.number().int().openapi({ example: 6 }),
    cost_usd: Cost,
    price_source: z.enum(["exact", "prefix", "provider_default"]).openapi({
      description: "How the model was priced: its own entry, a known prefix of its name, or the provider's default",
      example: "exact",
    }),
  })
  .openapi("ChatbotUsageEvent");

export const BillingSummary = z
  .object({
    days: z.number().int().openapi({ example: 30 }),
    since: z.string().openapi({ description: "The first instant counted (midnight UTC)", example: "2026-04-02T00:00:00.000Z" }),
    contact_id: z.string().nullable().openapi({ example: null }),
    totals: z.object(Totals),
    daily: z
      .array(z.object({ date: z.string().openapi({ example: "2026-05-01" }), ...Totals }))
      .openapi({ description: "One entry per UTC day of the range, oldest first" }),
    by_model: z
      .array(z.object({ provider: z.string().openapi({ example: "openai" }), model: z.string().openapi({ example: "gpt-4o-mini" }), ...Totals }))
      .openapi({ description: "Per provider and model, dearest first" }),
    recent: z.array(UsageEvent).openapi({ description: "The latest calls, newest first" }),
  })
  .openapi("ChatbotBillingSummary");

export const UsageEventPage = z
  .object({
    data: z.array(UsageEvent).openapi({ description: "Model calls, newest first" }),
    next_cursor: z.string().nullable().openapi({ description: "Pass as `cursor` for older calls; null on the last page", example: null }),
  })
  .openapi("ChatbotUsageEventPage");
