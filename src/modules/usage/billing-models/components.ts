/** The components of a billing model, as the API accepts them and as versions store them. */
import { z } from "@hono/zod-openapi";

const Minor = (description: string, example: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(1_000_000_000_000)
    .openapi({ description: `${description}, in minor units`, example });

/** Per-unit prices may be fractions of a minor unit (0.25 cents per token), up to 4 decimals. */
const UnitAmount = z
  .number()
  .min(0)
  .max(1_000_000_000)
  .refine((n) => Number.isInteger(Math.round(n * 10_000)) && Math.abs(n * 10_000 - Math.round(n * 10_000)) < 1e-6, "At most 4 decimals")
  .openapi({ description: "Price per unit in minor units, up to 4 decimals", example: 2.5 });

const EventType = z.string().trim().min(1).max(100).openapi({ description: "The event `type` this component prices", example: "message_sent" });

export const Tier = z
  .object({
    up_to: z.number().int().min(1).nullable().openapi({ description: "Last unit of this tier (inclusive); null for the last, unbounded tier", example: 1000 }),
    unit_amount: UnitAmount,
    flat_amount: Minor("A fixed amount when the tier is reached", 0).optional(),
  })
  .openapi("PriceTier");

export const SeatComponent = z
  .object({
    type: z.literal("seat").openapi({ description: "Priced per seat per period", example: "seat" }),
    unit_amount: Minor("Price per seat per period", 2000),
    seats: z
      .enum(["active_agents", "manual"])
      .default("active_agents")
      .openapi({ description: "Seats are the customer's active agents, or the count set on the customer's billing plan", example: "active_agents" }),
  })
  .openapi("SeatComponent");

export const ActivityComponent = z
  .object({
    type: z.literal("activity").openapi({ description: "Priced per unit of an activity type", example: "activity" }),
    activity_type: EventType,
    free_units: z.number().int().min(0).default(0).openapi({ description: "Units per period that are not charged (taken before tiers)", example: 100 }),
    unit_amount: UnitAmount.optional(),
    tiers: z.array(Tier).min(1).max(20).optional().openapi({ description: "Tiers by units, ascending; the last has up_to null", example: [] }),
    tier_mode: z.enum(["graduated", "volume"]).default("graduated").openapi({
      description: "graduated: each unit at its tier's price; volume: every unit at the price of the tier the total falls in",
      example: "graduated",
    }),
  })
  .refine((c) => (c.unit_amount === undefined) !== (c.tiers === undefined), { message: "Give either unit_amount or tiers", path: ["unit_amount"] })
  .refine((c) => !c.tiers || tiersAscending(c.tiers), {
    message: "Tiers must ascend by up_to, and only the last, unbounded, tier has up_to null",
    path: ["tiers"],
  })
  .openapi("ActivityComponent");

export const OutcomeComponent = z
  .object({
    type: z.literal("outcome").openapi({ description: "Priced per successful outcome of a type", example: "outcome" }),
    outcome_type: EventType,
    unit_amount: Minor("Price per successful outcome", 500).optional(),
    percent_bps: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .optional()
      .openapi({ description: "Share of the successful outcomes' value, in basis points", example: 250 }),
  })
  .refine((c) => c.unit_amount !== undefined || c.percent_bps !== undefined, { message: "Give unit_amount, percent_bps or both", path: ["unit_amount"] })
  .openapi("OutcomeComponent");

export const CostPlusComponent = z
  .object({
    type: z.literal("cost_plus").openapi({ description: "Recorded costs passed through with a markup", example: "cost_plus" }),
    markup_bps: z.number().int().min(0).max(100_000).openapi({ description: "Markup on costs, in basis points (2000 = +20%)", example: 2000 }),
    cost_type: EventType.optional().openapi({ description: "Only costs of this type (default: all)", example: "llm_tokens" }),
  })
  .openapi("CostPlusComponent");

export const Component = z.union([SeatComponent, ActivityComponent, OutcomeComponent, CostPlusComponent]).openapi("BillingComponent");

export type TierValue = z.infer<typeof Tier>;
export type ComponentValue = z.infer<typeof Component>;
export type SeatComponentValue = z.infer<typeof SeatComponent>;
export type ActivityComponentValue = z.infer<typeof ActivityComponent>;
export type OutcomeComponentValue = z.infer<typeof OutcomeComponent>;
export type CostPlusComponentValue = z.infer<typeof CostPlusComponent>;

function tiersAscending(tiers: TierValue[]): boolean {
  let previous = 0;
  for (const [index, tier] of tiers.entries()) {
    const last = index === tiers.length - 1;
    if (tier.up_to === null) return last;
    if (last || tier.up_to <= previous) return false;
    previous = tier.up_to;
  }
  return true;
}
