import { z } from "@hono/zod-openapi";
import { CREDIT_ENTRY_KINDS } from "../../../db/schema";
import { idempotencyHeader } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const ENTRY_ID_EXAMPLE = "cle_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;

export const LedgerEntry = z
  .object({
    id: z.string().openapi({ description: "Entry id; ids sort by time", example: ENTRY_ID_EXAMPLE }),
    kind: z.enum(CREDIT_ENTRY_KINDS).openapi({
      description:
        "grant (plan allowance), purchase, usage (settled work), refund, expiry, adjustment (platform staff), reservation (held for work in progress), release (hold given back)",
      example: "usage",
    }),
    amount: z.number().int().openapi({ description: "Credits added (positive) or taken away (negative)", example: -3 }),
    balance_after: z.number().int().openapi({ description: "The balance right after this entry", example: 997 }),
    reference: z
      .object({
        type: z.string().openapi({ description: "What caused the entry", example: "reservation" }),
        id: z.string().openapi({ description: "Its id", example: "crs_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
      })
      .openapi({ description: "What caused the entry; each cause counts once per kind" }),
    note: z.string().nullable().openapi({ description: "Why, in words", example: "ai.completions" }),
    created_at: z.string().openapi({ description: "When (ISO 8601, UTC)", example: "2026-05-04T09:30:00.000Z" }),
  })
  .openapi("CreditLedgerEntry");

export const LedgerQuery = pageQuery({ defaultLimit: 50, cursorExample: ENTRY_ID_EXAMPLE });

export const LedgerPage = pageSchema(LedgerEntry, "CreditLedgerPage", {
  data: "Ledger entries, newest first",
  nextCursor: "Pass as `cursor` for older entries; null on the last page",
});

export const Balance = z
  .object({
    balance: z.number().int().openapi({ description: "Credits the organisation can spend now (1 credit = USD 0.001)", example: 1000 }),
  })
  .openapi("CreditBalance");

export const QuotaQuery = z.object({
  period: z
    .string()
    .regex(PERIOD, "a month as YYYY-MM")
    .optional()
    .openapi({ description: "Calendar month (UTC) as YYYY-MM; the current month when omitted", example: "2026-05" }),
});

export const QuotaUsage = z
  .object({
    period: z.string().openapi({ description: "The month reported (UTC)", example: "2026-05" }),
    period_start: z.string().openapi({ description: "First instant of the month (ISO 8601, UTC)", example: "2026-05-01T00:00:00.000Z" }),
    resets_at: z.string().openapi({ description: "When the period resets: the first day of the next month (UTC)", example: "2026-06-01T00:00:00.000Z" }),
    remaining_credits: z.number().int().openapi({ description: "Credits left to spend now", example: 940 }),
    used_credits: z.number().int().openapi({ description: "Credits charged for work settled in the period", example: 60 }),
    by_feature: z
      .array(
        z.object({
          feature: z.string().openapi({ description: "Feature that did the work", example: "ai.completions" }),
          credits: z.number().int().openapi({ description: "Credits charged", example: 60 }),
          events: z.number().int().openapi({ description: "Pieces of work", example: 12 }),
        }),
      )
      .openapi({ description: "Usage per feature; credits sum to used_credits" }),
    by_model: z
      .array(
        z.object({
          provider: z.string().openapi({ description: "Provider", example: "openai" }),
          model: z.string().openapi({ description: "Model", example: "gpt-4o-mini" }),
          credits: z.number().int().openapi({ description: "Credits charged", example: 60 }),
          events: z.number().int().openapi({ description: "Pieces of work", example: 12 }),
          input_tokens: z.number().int().openapi({ description: "Input tokens", example: 5400 }),
          output_tokens: z.number().int().openapi({ description: "Output tokens", example: 2100 }),
          audio_seconds: z.number().openapi({ description: "Seconds of audio", example: 0 }),
          characters: z.number().int().openapi({ description: "Characters synthesised", example: 0 }),
        }),
      )
      .openapi({ description: "Usage per provider and model; credits sum to used_credits" }),
  })
  .openapi("QuotaUsage");

export const AdjustmentBody = z
  .object({
    org_id: z.string().min(1).max(100).openapi({ description: "Organisation to adjust", example: "org_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    amount: z
      .number()
      .int()
      .min(-100_000_000)
      .max(100_000_000)
      .refine((n) => n !== 0, "must not be zero")
      .openapi({ description: "Credits to add (positive) or take away (negative; never below a zero balance)", example: 500 }),
    note: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .openapi({ description: "Why; kept in the ledger and the audit trail", example: "Goodwill credit for the outage on 3 May" }),
  })
  .openapi("CreditAdjustmentRequest");

export const IdempotencyHeader = idempotencyHeader("the first adjustment back instead of applying it twice", "ticket-4711");

export const Adjustment = z
  .object({
    entry: LedgerEntry,
    balance: z.number().int().openapi({ description: "The organisation's balance after the adjustment", example: 1500 }),
  })
  .openapi("CreditAdjustment");

export type LedgerEntryResponse = z.infer<typeof LedgerEntry>;
export type QuotaUsageResponse = z.infer<typeof QuotaUsage>;
