/**
 * The pricing rule for usage invoices, the one place charges are computed. Pure: it takes a
 * model version's terms and the period's usage totals and returns lines.
 *
 * Exactness: quantities are thousandths and unit amounts ten-thousandths of a minor unit, both
 * as BigInt; each line's amount is rounded half up to a whole minor unit once, from the exact
 * product. Then:
 *   base fee     one line when > 0
 *   seat         seats × unit_amount
 *   activity     billable = max(0, units − free_units); flat: billable × unit_amount;
 *                graduated: each tier's units × its unit_amount (+ its flat_amount when reached);
 *                volume: all billable units × the unit_amount of the tier the total falls in
 *                (+ that tier's flat_amount); a unit on a tier's `up_to` belongs to that tier
 *   outcome      successful count × unit_amount, and round(Σ successful value × percent_bps / 10000)
 *   cost_plus    round(Σ costs × (10000 + markup_bps) / 10000)
 *   minimum      when the subtotal is below the minimum commitment, a line for the difference
 *   tax          round(subtotal × tax_rate_bps / 10000); total = subtotal + tax
 */
import type { ActivityComponentValue, ComponentValue, OutcomeComponentValue, TierValue } from "./components";

export interface ModelTerms {
  currency: string;
  baseFee: number;
  minimumCommitment: number;
  taxRateBps: number;
  components: ComponentValue[];
}

/** The period's usage, already summed per type. Costs and outcome values are in the model's currency. */
export interface UsageTotals {
  seats: number;
  /** Activity units per activity type, in thousandths. */
  activities: Map<string, bigint>;
  /** Successful outcomes per outcome type: how many, and the sum of their values. */
  outcomes: Map<string, { count: number; value: number }>;
  /** Costs per cost type, in minor units. */
  costs: Map<string, number>;
}

export interface ChargeLine {
  component: "base_fee" | "seat" | "activity" | "outcome" | "cost_plus" | "minimum_commitment";
  description: string;
  /** Decimal string with 3 decimals. */
  quantity: string;
  /** Minor units per unit, up to 4 decimals; null for lines that are not per unit. */
  unit_amount: number | null;
  amount: number;
}

export interface Charges {
  lines: ChargeLine[];
  subtotal: number;
  tax_rate_bps: number;
  tax: number;
  total: number;
}

const SCALE = 10_000_000n; // thousandths of a unit × ten-thousandths of a minor unit

function divideHalfUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/** 2.5 -> 25000n: a unit amount as ten-thousandths of a minor unit. */
function tenThousandths(amount: number): bigint {
  return BigInt(Math.round(amount * 10_000));
}

export function formatQuantity(thousandths: bigint): string {
  const sign = thousandths < 0n ? "-" : "";
  const abs = thousandths < 0n ? -thousandths : thousandths;
  return `${sign}${abs / 1000n}.${String(abs % 1000n).padStart(3, "0")}`;
}

/** round_half_up(units × unit_amount), units in thousandths. */
function price(units: bigint, unitAmount: number): number {
  return Number(divideHalfUp(units * tenThousandths(unitAmount), SCALE));
}

function activityLines(component: ActivityComponentValue, units: bigint): ChargeLine[] {
  const free = BigInt(component.free_units) * 1000n;
  const billable = units > free ? units - free : 0n;
  const label = `${component.activity_type}: ${formatQuantity(units)} units${component.free_units > 0 ? `, ${component.free_units} free` : ""}`;
  const line = (description: string, quantity: bigint, unitAmount: number, flat = 0): ChargeLine => ({
    component: "activity",
    description,
    quantity: formatQuantity(quantity),
    unit_amount: unitAmount,
    amount: price(quantity, unitAmount) + flat,
  });
  if (component.unit_amount !== undefined || !component.tiers) return [line(label, billable, component.unit_amount ?? 0)];
  const tiers = component.tiers;
  if (billable === 0n) return [line(label, 0n, tiers[0]?.unit_amount ?? 0)];
  const bound = (tier: TierValue) => (tier.up_to === null ? null : BigInt(tier.up_to) * 1000n);
  if (component.tier_mode === "volume") {
    const index = tiers.findIndex((tier) => {
      const upTo = bound(tier);
      return upTo === null || billable <= upTo;
    });
    const tier = tiers[index] as TierValue;
    return [line(`${label}, volume tier ${index + 1}`, billable, tier.unit_amount, tier.flat_amount ?? 0)];
  }
  const lines: ChargeLine[] = [];
  let lower = 0n;
  for (const [index, tier] of tiers.entries()) {
    if (billable <= lower) break;
    const upTo = bound(tier);
    const inTier = (upTo === null || billable < upTo ? billable : upTo) - lower;
    lines.push(line(`${label}, tier ${index + 1}`, inTier, tier.unit_amount, tier.flat_amount ?? 0));
    if (upTo === null) break;
    lower = upTo;
  }
  return lines;
}

function outcomeLines(component: OutcomeComponentValue, totals: { count: number; value: number }): ChargeLine[] {
  const lines: ChargeLine[] = [];
  if (component.unit_amount !== undefined) {
    lines.push({
      component: "outcome",
      description: `${component.outcome_type}: successful outcomes`,
      quantity: formatQuantity(BigInt(totals.count) * 1000n),
      unit_amount: component.unit_amount,
      amount: totals.count * component.unit_amount,
    });
  }
  if (component.percent_bps !== undefined) {
    lines.push({
      component: "outcome",
      description: `${component.outcome_type}: ${component.percent_bps / 100}% of ${totals.value} outcome value`,
      quantity: formatQuantity(BigInt(totals.value) * 1000n),
      unit_amount: null,
      amount: Number(divideHalfUp(BigInt(totals.value) * BigInt(component.percent_bps), 10_000n)),
    });
  }
  return lines;
}

function componentLines(component: ComponentValue, usage: UsageTotals): ChargeLine[] {
  switch (component.type) {
    case "seat":
      return [
        {
          component: "seat",
          description: component.seats === "manual" ? "Seats" : "Seats (active agents)",
          quantity: formatQuantity(BigInt(usage.seats) * 1000n),
          unit_amount: component.unit_amount,
          amount: usage.seats * component.unit_amount,
        },
      ];
    case "activity":
      return activityLines(component, usage.activities.get(component.activity_type) ?? 0n);
    case "outcome":
      return outcomeLines(component, usage.outcomes.get(component.outcome_type) ?? { count: 0, value: 0 });
    case "cost_plus": {
      const costs = component.cost_type ? (usage.costs.get(component.cost_type) ?? 0) : [...usage.costs.values()].reduce((a, b) => a + b, 0);
      return [
        {
          component: "cost_plus",
          description: `${component.cost_type ?? "All"} costs passed through, +${component.markup_bps / 100}%`,
          quantity: formatQuantity(BigInt(costs) * 1000n),
          unit_amount: null,
          amount: Number(divideHalfUp(BigInt(costs) * BigInt(10_000 + component.markup_bps), 10_000n)),
        },
      ];
    }
  }
}

export function computeCharges(terms: ModelTerms, usage: UsageTotals): Charges {
  const lines: ChargeLine[] = [];
  if (terms.baseFee > 0) lines.push({ component: "base_fee", description: "Base fee", quantity: "1.000", unit_amount: terms.baseFee, amount: terms.baseFee });
  for (const component of terms.components) lines.push(...componentLines(component, usage));
  const usageTotal = lines.reduce((sum, l) => sum + l.amount, 0);
  if (usageTotal < terms.minimumCommitment) {
    lines.push({
      component: "minimum_commitment",
      description: `Minimum commitment of ${terms.minimumCommitment}`,
      quantity: "1.000",
      unit_amount: null,
      amount: terms.minimumCommitment - usageTotal,
    });
  }
  const subtotal = lines.reduce((sum, l) => sum + l.amount, 0);
  const tax = Number(divideHalfUp(BigInt(subtotal) * BigInt(terms.taxRateBps), 10_000n));
  return { lines, subtotal, tax_rate_bps: terms.taxRateBps, tax, total: subtotal + tax };
}
