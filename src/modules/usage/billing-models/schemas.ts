import { z } from "@hono/zod-openapi";
import { BILLING_PERIODS } from "../../../db/schema";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { ActivityComponent, CostPlusComponent, OutcomeComponent, SeatComponent } from "./components";

const MODEL_ID_EXAMPLE = "bmd_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const AGENT_ID_EXAMPLE = "agt_01JD3X6W6X8Q3M1B0V4T2Y9ZKB";
const CUSTOMER_ID_EXAMPLE = "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKC";
const MAX_COMPONENTS = 50;

/** Shown once in the OpenAPI document; engine.ts implements it. */
export const PRICING_RULE =
  "Amounts are integer minor units of the model's currency. Activity quantities are summed with 3 decimals; each line is " +
  "round_half_up(quantity × unit_amount) once. Activity: billable = units − free_units, flat or tiered (graduated: each unit at " +
  "its tier's price, volume: all units at the price of the tier the total falls in; a tier's flat_amount is added when reached). " +
  "Outcome: successful outcomes × unit_amount, plus round_half_up(Σ successful values × percent_bps / 10000). Cost-plus: " +
  "round_half_up(Σ costs × (10000 + markup_bps) / 10000). Costs and outcome values count only in the model's currency (an event " +
  "without a currency is taken as the model's). A minimum commitment adds a line for the shortfall; tax = " +
  "round_half_up(subtotal × tax_rate_bps / 10000); total = subtotal + tax.";

/**
 * The components, told apart by `type`, so a mistake is reported on the field that has it
 * (`components.0.tiers`) rather than as "matches none of four shapes".
 */
const ComponentInput = z.discriminatedUnion("type", [SeatComponent, ActivityComponent, OutcomeComponent, CostPlusComponent]);

const ComponentList = z
  .array(ComponentInput)
  .min(1)
  .max(MAX_COMPONENTS)
  // computeCharges prices every seat component with one seat count, so they must agree on how it is counted.
  .refine((list) => new Set(list.flatMap((c) => (c.type === "seat" ? [c.seats] : []))).size <= 1, {
    message: "All seat components must count seats the same way (active_agents or manual)",
  })
  .openapi({
    description: `What is priced, 1 to ${MAX_COMPONENTS} components: seat, activity, outcome or cost_plus`,
    example: [
      { type: "seat", unit_amount: 2000, seats: "active_agents" },
      { type: "activity", activity_type: "message_sent", free_units: 100, unit_amount: 2.5 },
      { type: "outcome", outcome_type: "meeting_booked", unit_amount: 500, percent_bps: 250 },
      { type: "cost_plus", markup_bps: 2000 },
    ],
  });

const Currency = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z]{3}$/, "Use a three-letter ISO 4217 code such as USD")
  .openapi({ description: "ISO 4217 currency of the model's amounts; the organisation's currency when omitted", example: "USD" });

const MinorInput = (description: string, example: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(1_000_000_000_000)
    .openapi({ description: `${description}, in minor units`, example });

const TaxRate = z.number().int().min(0).max(10_000).openapi({ description: "Tax rate in basis points (1800 = 18%)", example: 1800 });

const ModelName = z.string().trim().min(1).max(200).openapi({ description: "Name, unique in the organisation (case-insensitive)", example: "Pro agents" });

export const CreateBillingModelBody = z
  .object({
    name: ModelName,
    currency: Currency.optional(),
    period: z.enum(BILLING_PERIODS).default("month").openapi({ description: "Billing period; monthly only for now", example: "month" }),
    base_fee: MinorInput("A fixed fee per period", 5000).optional(),
    minimum_commitment: MinorInput("The least a period is billed before tax; a shortfall is billed as its own line", 10000).optional(),
    tax_rate_bps: TaxRate.optional(),
    components: ComponentList,
  })
  .openapi("CreateBillingModelRequest", { description: PRICING_RULE });

export const UpdateBillingModelBody = z
  .object({
    name: ModelName.optional(),
    currency: Currency.optional(),
    base_fee: MinorInput("A fixed fee per period", 5000).optional(),
    minimum_commitment: MinorInput("The least a period is billed before tax", 10000).optional(),
    tax_rate_bps: TaxRate.optional(),
    components: ComponentList.optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message: "Send at least one of name, currency, base_fee, minimum_commitment, tax_rate_bps, components",
  })
  .openapi("UpdateBillingModelRequest", {
    description: "Fields left out keep their current value. A change to the terms (anything but `name`) writes a new version; earlier versions never change.",
  });

const TermsFields = {
  currency: z.string().openapi({ description: "ISO 4217 currency of the amounts", example: "USD" }),
  period: z.enum(BILLING_PERIODS).openapi({ description: "Billing period", example: "month" }),
  base_fee: z.number().int().openapi({ description: "Fixed fee per period, in minor units", example: 5000 }),
  minimum_commitment: z.number().int().openapi({ description: "Least a period is billed before tax, in minor units", example: 10000 }),
  tax_rate_bps: z.number().int().openapi({ description: "Tax rate in basis points", example: 1800 }),
  components: z
    .array(ComponentInput)
    .openapi({ description: "What is priced, with defaults filled in", example: [{ type: "seat", unit_amount: 2000, seats: "active_agents" }] }),
};

export const BillingModel = z
  .object({
    id: z.string().openapi({ description: "Billing model id", example: MODEL_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Name", example: "Pro agents" }),
    version: z.number().int().openapi({ description: "The current version, whose terms are shown", example: 2 }),
    versions: z.number().int().openapi({ description: "How many versions exist (1 to `version`)", example: 2 }),
    ...TermsFields,
    archived_at: z.string().nullable().openapi({ description: "When the model was archived, or null", example: null }),
    created_at: z.string().openapi({ description: "When the model was created", example: "2026-05-01T11:00:00.000Z" }),
    updated_at: z.string().openapi({ description: "When the model last changed", example: "2026-05-02T11:00:00.000Z" }),
  })
  .openapi("BillingModel", { description: PRICING_RULE });

export const BillingModelVersion = z
  .object({
    model_id: z.string().openapi({ description: "Billing model id", example: MODEL_ID_EXAMPLE }),
    version: z.number().int().openapi({ description: "Version number, from 1", example: 1 }),
    ...TermsFields,
    created_by: z.string().nullable().openapi({ description: "The user who wrote this version, if a user did", example: "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKD" }),
    created_at: z.string().openapi({ description: "When this version was written", example: "2026-05-01T11:00:00.000Z" }),
  })
  .openapi("BillingModelVersion");

export const BillingModelList = pageSchema(BillingModel, "BillingModelList", { data: "Billing models that are not archived, oldest first" });

export const BillingModelListQuery = pageQuery({ defaultLimit: 50, cursorExample: MODEL_ID_EXAMPLE }).extend({
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Text in the name, case-insensitive", example: "pro" }),
});

export const BillingModelIdParam = z.object({
  id: pathId("id", "bmd", "Billing model id", MODEL_ID_EXAMPLE),
});

export const BillingModelVersionParams = BillingModelIdParam.extend({
  // A string, not a number: an unknown version is a 404 like an unknown model, whatever it looks like.
  version: z
    .string()
    .max(100)
    .openapi({ param: { name: "version", in: "path" }, description: "Version number", example: "1" }),
});

/** `YYYY-MM-DD` (midnight UTC) or an ISO date-time that states its offset. */
function parseInstant(value: string): Date | null {
  if (!z.iso.date().safeParse(value).success && !z.iso.datetime({ offset: true }).safeParse(value).success) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : new Date(time);
}

const Instant = (description: string, example: string) =>
  z
    .string()
    .trim()
    .transform((value, ctx) => {
      const parsed = parseInstant(value);
      if (!parsed) {
        ctx.addIssue({ code: "custom", message: "An ISO date (2026-05-01) or date-time with Z or an offset (2026-05-01T09:30:00Z)" });
        return z.NEVER;
      }
      return parsed;
    })
    .openapi({ description, example, type: "string" });

export const CalculateBody = z
  .object({
    from: Instant("Start of the period, included (UTC)", "2026-05-01"),
    to: Instant("End of the period, excluded (UTC)", "2026-06-01"),
    agent_id: z.string().max(100).optional().openapi({ description: "Only this agent's events", example: AGENT_ID_EXAMPLE }),
    customer_id: z.string().max(100).optional().openapi({ description: "Only the events of this customer's agents", example: CUSTOMER_ID_EXAMPLE }),
    version: z.number().int().min(1).optional().openapi({ description: "Price with this version's terms instead of the current one", example: 1 }),
  })
  .openapi("CalculateChargesRequest", {
    description:
      "Events with occurred_at in [from, to). Seats are the active agents in scope (the agent, the customer's agents, or all), or for " +
      "seats = manual the count on the billing plan of the customer (customer_id, or the agent's customer).",
  });

const Money = (description: string, example: number) =>
  z
    .number()
    .int()
    .openapi({ description: `${description}, in minor units of \`currency\``, example });

export const ChargeLine = z
  .object({
    component: z
      .enum(["base_fee", "seat", "activity", "outcome", "cost_plus", "minimum_commitment"])
      .openapi({ description: "What the line charges for", example: "activity" }),
    description: z.string().openapi({ description: "Human-readable explanation", example: "message_sent: 1250.000 units, 100 free" }),
    quantity: z.string().openapi({ description: "Quantity with exactly 3 decimals", example: "1150.000" }),
    unit_amount: z.number().nullable().openapi({ description: "Price per unit in minor units (up to 4 decimals), or null", example: 2.5 }),
    amount: Money("The line's amount", 2875),
  })
  .openapi("ChargeLine");

export const Calculation = z
  .object({
    model_id: z.string().openapi({ description: "Billing model id", example: MODEL_ID_EXAMPLE }),
    version: z.number().int().openapi({ description: "The version whose terms were used", example: 2 }),
    currency: z.string().openapi({ description: "ISO 4217 currency of the amounts", example: "USD" }),
    from: z.string().openapi({ description: "Start of the period, included", example: "2026-05-01T00:00:00.000Z" }),
    to: z.string().openapi({ description: "End of the period, excluded", example: "2026-06-01T00:00:00.000Z" }),
    lines: z.array(ChargeLine).openapi({ description: "The charges, in the model's component order", example: [] }),
    subtotal: Money("Sum of the lines", 2875),
    tax_rate_bps: z.number().int().openapi({ description: "Tax rate in basis points", example: 1800 }),
    tax: Money("round_half_up(subtotal × tax_rate_bps / 10000)", 518),
    total: Money("subtotal + tax", 3393),
  })
  .openapi("ChargeCalculation", { description: PRICING_RULE });

export const CustomerIdParam = z.object({
  id: pathId("id", "cus", "Customer id", CUSTOMER_ID_EXAMPLE),
});

export const PutBillingPlanBody = z
  .object({
    model_id: z.string().max(100).openapi({ description: "The billing model this customer is billed with", example: MODEL_ID_EXAMPLE }),
    seats: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .nullable()
      .optional()
      .openapi({ description: "Seat count for seat components with seats = manual", example: 5 }),
  })
  .openapi("PutBillingPlanRequest");

export const BillingPlan = z
  .object({
    customer_id: z.string().openapi({ description: "Customer id", example: CUSTOMER_ID_EXAMPLE }),
    model_id: z.string().openapi({ description: "The billing model the customer is billed with", example: MODEL_ID_EXAMPLE }),
    seats: z.number().int().nullable().openapi({ description: "Manual seat count, or null", example: 5 }),
    created_at: z.string().openapi({ description: "When the customer was first put on a plan", example: "2026-05-01T11:00:00.000Z" }),
    updated_at: z.string().openapi({ description: "When the plan last changed", example: "2026-05-01T11:00:00.000Z" }),
  })
  .openapi("BillingPlan");

export type CreateBillingModelInput = z.infer<typeof CreateBillingModelBody>;
export type UpdateBillingModelInput = z.infer<typeof UpdateBillingModelBody>;
export type BillingModelListInput = z.infer<typeof BillingModelListQuery>;
export type BillingModelView = z.infer<typeof BillingModel>;
export type BillingModelVersionView = z.infer<typeof BillingModelVersion>;
export type CalculateInput = z.infer<typeof CalculateBody>;
export type CalculationView = z.infer<typeof Calculation>;
export type PutBillingPlanInput = z.infer<typeof PutBillingPlanBody>;
export type BillingPlanView = z.infer<typeof BillingPlan>;
