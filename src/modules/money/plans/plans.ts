/**
 * Plans and credit packs, as plain configuration. Credits are the unit every paid feature is
 * charged in (1 credit = USD 0.001, see prices.ts). The Stripe module maps these ids to Stripe
 * price ids from its environment; nothing here knows about Stripe.
 */
export type SupportLevel = "community" | "email" | "priority";

/** What a plan caps; each is enforced where the thing is created, with a 403 naming the plan. */
export interface PlanLimits {
  /** Organisations one person may own (the best plan among those they own decides). */
  organisations: number;
  /** Members of one organisation, pending invitations included. */
  members: number;
  /** Twilio numbers attached to the organisation's assistants, all assistants together. */
  phoneNumbers: number;
}

export interface Plan {
  name: string;
  /** Credits granted at the start of each billing period. */
  monthlyCredits: number;
  support: SupportLevel;
  limits: PlanLimits;
}

/** From the smallest to the largest: limits checks take the largest of several plans. */
export const PLANS = {
  free: { name: "Free", monthlyCredits: 1_000, support: "community", limits: { organisations: 3, members: 5, phoneNumbers: 1 } },
  basic: { name: "Basic", monthlyCredits: 20_000, support: "email", limits: { organisations: 5, members: 20, phoneNumbers: 5 } },
  pro: { name: "Pro", monthlyCredits: 100_000, support: "priority", limits: { organisations: 20, members: 100, phoneNumbers: 25 } },
} as const satisfies Record<string, Plan>;

const SUPPORT_TEXT: Record<SupportLevel, string> = {
  community: "Community support",
  email: "Email support",
  priority: "Priority support",
};

/**
 * What a plan gives, in words for a pricing page. Written from the plan's numbers so it cannot
 * promise what is not enforced: every plan can use every paid feature, and credits are what limit use.
 */
export function planFeatures(plan: Plan): string[] {
  const count = (n: number) => n.toLocaleString("en-US");
  return [
    `${count(plan.monthlyCredits)} credits a month`,
    "Every paid feature (AI, voice, ask your data, messaging), charged in credits",
    `Own up to ${count(plan.limits.organisations)} organisations`,
    `Up to ${count(plan.limits.members)} members per organisation`,
    `${count(plan.limits.phoneNumbers)} phone ${plan.limits.phoneNumbers === 1 ? "number" : "numbers"} for your assistants`,
    SUPPORT_TEXT[plan.support],
  ];
}

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
