import { z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import type { FieldError } from "../../../lib/errors";
import { AGENT_ID_EXAMPLE, metadataObject } from "../agents/schemas";

export const MAX_BATCH_EVENTS = 1000;
/** How far ahead of the server's clock `occurred_at` may be: client clocks drift, the future does not happen. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;
export const EVENT_METADATA_MAX_BYTES = 2048;
export const MAX_MINOR_UNITS = Number.MAX_SAFE_INTEGER;

export const INGEST_RULES = [
  "`id` is your idempotency id, unique in the organisation: a valid event whose id was already stored (or that repeats an id earlier in the same batch) " +
    "is counted once and reported under `duplicates`, whatever its other fields say, even if its agent has been archived or its period closed since.",
  "An event is refused when its agent is not in the organisation or is archived, when `occurred_at` is more than 5 minutes ahead of the server's clock, " +
    "or when it falls in a closed invoice period: before the end of the latest period of the agent's customer that has an open or paid invoice.",
  "activity: `quantity` > 0 with at most 3 decimals, 1 when left out. cost: `amount` ≥ 0 in minor units and `currency`. " +
    "outcome: `success`, and optionally `value` in minor units with its `currency`. A field of another kind is refused, not ignored.",
].join("\n\n");

/** Limits and patterns the schemas below and the batch's quick path (batch-event.ts) share. */
export const EVENT_ID_MAX = 200;
export const EVENT_ID_PATTERN = /^[\x21-\x7e]+$/;
export const EVENT_TYPE_MAX = 100;
export const AGENT_ID_MAX = 100;
export const CURRENCY_PATTERN = /^[A-Za-z]{3}$/;
const QUANTITY = /^\d{1,17}(\.\d{1,3})?$/;
const ZERO = /^0+(\.0+)?$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Explains a missing field in terms of the event's kind instead of zod's "expected number, received undefined". */
const requiredFor = (kind?: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? (kind ? `Required for ${kind} events` : "Required") : undefined;

const EventId = z
  .string({ error: requiredFor() })
  .min(1)
  .max(EVENT_ID_MAX)
  .regex(EVENT_ID_PATTERN, "Printable ASCII without spaces")
  .openapi({ description: "Your idempotency id for the event, unique in the organisation", example: "run-8812-step-3" });

const EventType = z
  .string({ error: requiredFor() })
  .trim()
  .min(1)
  .max(EVENT_TYPE_MAX)
  .openapi({ description: "What happened, e.g. the activity, cost or outcome type a billing model prices", example: "email_sent" });

/**
 * `value` as an instant when it is an ISO date-time with Z or an offset naming a real calendar
 * day (2026-02-30 is refused, where `Date.parse` would roll it over); null otherwise. Shared by
 * the schema and the batch's quick path (batch-event.ts), so both accept the same strings.
 */
export function parseOccurredAt(value: string): Date | null {
  const match = DATE_TIME.exec(value);
  if (!match) return null;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  const time = Date.parse(value);
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day || Number.isNaN(time)) return null;
  return new Date(time);
}

/** A quantity as stored (its decimal text) when it is > 0 with at most 3 decimals; null otherwise. Shared like `parseOccurredAt`. */
export function normaliseQuantity(value: number | string): string | null {
  const text = typeof value === "number" ? String(value) : value;
  return QUANTITY.test(text) && !ZERO.test(text) ? text : null;
}

const OccurredAt = z
  .string({ error: requiredFor() })
  .transform((value, ctx) => {
    const instant = parseOccurredAt(value);
    if (!instant) {
      ctx.addIssue({ code: "custom", message: "An ISO date-time with Z or an offset, e.g. 2026-05-01T09:30:00Z" });
      return z.NEVER;
    }
    return instant;
  })
  .openapi({ description: "When it happened: an ISO date-time with Z or an offset", example: "2026-05-01T09:30:00Z", type: "string" });

const Quantity = z
  .union([z.number().finite(), z.string().trim()])
  .transform((value, ctx) => {
    const text = normaliseQuantity(value);
    if (text === null) {
      ctx.addIssue({ code: "custom", message: "A positive decimal with at most 3 decimals" });
      return z.NEVER;
    }
    return text;
  })
  .openapi({ description: "Units of the activity, a number or decimal string > 0 with at most 3 decimals; 1 when left out", example: "1.500" });

const Currency = (kind: string) =>
  z
    .string({ error: requiredFor(kind) })
    .regex(CURRENCY_PATTERN, "An ISO 4217 code such as USD")
    .transform((code) => code.toUpperCase())
    .openapi({ description: "ISO 4217 currency of the amount", example: "USD", type: "string" });

const Amount = z
  .number({ error: requiredFor("cost") })
  .int()
  .min(0)
  .max(MAX_MINOR_UNITS)
  .openapi({ description: "What it cost, in minor units of `currency`", example: 42 });

const OutcomeValue = z
  .number()
  .int()
  .min(0)
  .max(MAX_MINOR_UNITS)
  .openapi({ description: "What the outcome was worth, in minor units of `currency` (percentage pricing applies to it)", example: 150000 });

const Success = z
  .boolean({ error: requiredFor("outcome") })
  .openapi({ description: "Whether the outcome succeeded; only successful ones are billed", example: true });

const Metadata = metadataObject(EVENT_METADATA_MAX_BYTES, "Your own data about the event", { ticket: "T-1042" });

const AgentId = z.string({ error: requiredFor() }).max(AGENT_ID_MAX).openapi({ description: "The agent the event belongs to", example: AGENT_ID_EXAMPLE });

/** A field that belongs to another kind is refused (not dropped), so a mislabelled event cannot be stored as something else. */
const strictFor = (kind: string) => ({
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === "unrecognized_keys" ? `Not a field of ${kind} events: ${(issue.keys ?? []).join(", ")}` : undefined,
});

const activityShape = { id: EventId, type: EventType, quantity: Quantity.optional(), occurred_at: OccurredAt, metadata: Metadata.optional() };
const costShape = { id: EventId, type: EventType, amount: Amount, currency: Currency("cost"), occurred_at: OccurredAt, metadata: Metadata.optional() };
const outcomeShape = {
  id: EventId,
  type: EventType,
  success: Success,
  value: OutcomeValue.optional(),
  currency: Currency("outcome").optional().openapi({ description: "ISO 4217 currency of `value`; without it, the currency of the billing model" }),
  occurred_at: OccurredAt,
  metadata: Metadata.optional(),
};

export const ActivityEventBody = z.strictObject(activityShape, strictFor("activity")).openapi("ActivityEvent");
export const CostEventBody = z.strictObject(costShape, strictFor("cost")).openapi("CostEvent");
export const OutcomeEventBody = z.strictObject(outcomeShape, strictFor("outcome")).openapi("OutcomeEvent");

const batchFields = <Kind extends "activity" | "cost" | "outcome">(kind: Kind) => ({
  agent_id: AgentId,
  kind: z.literal(kind).openapi({ description: "activity, cost or outcome", example: kind }),
});

/** One event of a batch; parsed item by item by the service, so one bad event does not fail the batch. */
export const BatchEvent = z
  .discriminatedUnion(
    "kind",
    [
      z.strictObject({ ...activityShape, ...batchFields("activity") }, strictFor("activity")).openapi("BatchActivityEvent"),
      z.strictObject({ ...costShape, ...batchFields("cost") }, strictFor("cost")).openapi("BatchCostEvent"),
      z.strictObject({ ...outcomeShape, ...batchFields("outcome") }, strictFor("outcome")).openapi("BatchOutcomeEvent"),
    ],
    {
      error: (issue) =>
        issue.code === "invalid_union" ? "kind must be activity, cost or outcome" : issue.code === "invalid_type" ? "An event is a JSON object" : undefined,
    },
  )
  .openapi("BatchEvent");

const BATCH_EXAMPLE = [
  { id: "run-8812-step-1", agent_id: AGENT_ID_EXAMPLE, kind: "activity", type: "email_sent", quantity: "1", occurred_at: "2026-05-01T09:30:00Z" },
  { id: "run-8812-step-2", agent_id: AGENT_ID_EXAMPLE, kind: "cost", type: "llm_tokens", amount: 42, currency: "USD", occurred_at: "2026-05-01T09:30:01Z" },
  { id: "run-8812-step-3", agent_id: AGENT_ID_EXAMPLE, kind: "outcome", type: "ticket_resolved", success: true, occurred_at: "2026-05-01T09:30:02Z" },
];

export const EventBatchBody = z
  .object({
    events: z
      // Items are validated one by one in the service, never here: a bad item is reported in
      // `rejected` while the others are stored. The document still shows their schema.
      .array(z.unknown().openapi({ allOf: [{ $ref: "#/components/schemas/BatchEvent" }], description: "An activity, cost or outcome event" }))
      .min(1)
      .max(MAX_BATCH_EVENTS)
      .openapi({ description: `1 to ${MAX_BATCH_EVENTS} events, kinds mixed`, example: BATCH_EXAMPLE }),
  })
  .openapi("EventBatchRequest");

const FieldErrorSchema = z
  .object({
    path: z.string().openapi({ description: "Field of the event, e.g. `amount`", example: "occurred_at" }),
    message: z.string().openapi({ description: "Why it was refused", example: "More than 5 minutes in the future" }),
  })
  .openapi("EventFieldError");

export const EventBatchResult = z
  .object({
    accepted: z.number().int().openapi({ description: "Events stored by this request", example: 998 }),
    duplicates: z.number().int().openapi({ description: "Valid events whose id was already stored, or repeated earlier in the batch", example: 1 }),
    rejected: z
      .array(
        z
          .object({
            index: z.number().int().openapi({ description: "Position of the event in `events`, from 0", example: 17 }),
            errors: z.array(FieldErrorSchema).openapi({ description: "Every reason it was refused", example: [] }),
          })
          .openapi("RejectedEvent"),
      )
      .openapi({ description: "Events not stored, by position", example: [{ index: 17, errors: [{ path: "amount", message: "Required for cost events" }] }] }),
  })
  .openapi("EventBatchResult");

export const RecordedEvent = z
  .object({
    id: z.string().openapi({ description: "The event's idempotency id", example: "run-8812-step-3" }),
    agent_id: z.string().openapi({ description: "The agent", example: AGENT_ID_EXAMPLE }),
    kind: z.enum(["activity", "cost", "outcome"]).openapi({ description: "What kind of event", example: "activity" }),
    status: z.enum(["accepted", "duplicate"]).openapi({
      description: "accepted: stored now (201); duplicate: an event with this id was already stored, this one was not (200)",
      example: "accepted",
    }),
  })
  .openapi("RecordedEvent");

/** zod issues as `{path, message}` relative to one event; an unknown field gets its own path. */
export function eventFieldErrors(error: ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => ({ path: [...issue.path, key].join("."), message: issue.message }));
    return [{ path: issue.path.map(String).join(".") || "(root)", message: issue.message }];
  });
}

export type ActivityEventInput = z.infer<typeof ActivityEventBody>;
export type CostEventInput = z.infer<typeof CostEventBody>;
export type OutcomeEventInput = z.infer<typeof OutcomeEventBody>;
export type BatchEventInput = z.infer<typeof BatchEvent>;
export type EventBatchResultView = z.infer<typeof EventBatchResult>;
export type RecordedEventView = z.infer<typeof RecordedEvent>;
