/**
 * Plans and credit packs, as plain configuration. Credits are the unit every paid feature is
 * charged in (1 credit = USD 0.001, see prices.ts). The Stripe module maps these ids to Stripe
 * price ids from its environment; nothing here knows about Stripe.
 */
export interface Plan {
  name: string;
  /** Credits granted at the start of each billing period. */
  monthlyCredits: number;
  features: string[];
}

export const PLANS = {
  free: { name: "Free", monthlyCredits: 1_000, features: ["ai.completions", "1 organisation", "community support"] },
  basic: { name: "Basic", monthlyCredits: 20_000, features: ["ai.completions", "voice", "messaging", "email support"] },
  pro: { name: "Pro", monthlyCredits: 100_000, features: ["ai.completions", "voice", "messaging", "ask your data", "priority support"] },
} as const satisfies Record<string, Plan>;

export type PlanId = keyof typeof PLANS;

/** One-off top-ups, bought through Stripe Checkout. */
export interface CreditPack {
  credits: number;
}

export const CREDIT_PACKS = {
  credits_1000: { credits: 1_000 },
  credits_10000: { credits: 10_000 },
  credits_100000: { credits: 100_000 },
} as const satisfies Record<string, CreditPack>;

export type CreditPackId = keyof typeof CREDIT_PACKS;

/** The plan a new organisation starts on, before any subscription. */
export const DEFAULT_PLAN: PlanId = "free";

export function isPlanId(value: string): value is PlanId {
  return Object.hasOwn(PLANS, value);
}

export function isCreditPackId(value: string): value is CreditPackId {
  return Object.hasOwn(CREDIT_PACKS, value);
}

/** The plan with this id, or undefined for an unknown id. */
export function planFor(planId: string): Plan | undefined {
  return isPlanId(planId) ? PLANS[planId] : undefined;
}

/** The credit pack with this id, or undefined for an unknown id. */
export function creditPackFor(packId: string): CreditPack | undefined {
  return isCreditPackId(packId) ? CREDIT_PACKS[packId] : undefined;
}

/** `YYYY-MM` (UTC) of an instant: the key of a monthly allowance, e.g. `free:2026-05`. */
export function periodOf(date: Date): string {
  return date.toISOString().slice(0, 7);
}

/**
 * The reference of a plan's allowance for one period: granting it twice in the same period is a
 * no-op because the ledger is unique per reference.
 */
export function planPeriodReference(planId: PlanId, date: Date): { type: "plan_period"; id: string } {
  return { type: "plan_period", id: `${planId}:${periodOf(date)}` };
}
