import { describe, expect, it } from "vitest";
import { Component, type ComponentValue } from "../src/modules/usage/billing-models/components";
import { computeCharges, type ModelTerms, type UsageTotals } from "../src/modules/usage/billing-models/engine";

function terms(components: unknown[], extra: Partial<ModelTerms> = {}): ModelTerms {
  return {
    currency: "USD",
    baseFee: 0,
    minimumCommitment: 0,
    taxRateBps: 0,
    components: components.map((c) => Component.parse(c) as ComponentValue),
    ...extra,
  };
}

function usage(extra: Partial<UsageTotals> = {}): UsageTotals {
  return { seats: 0, activities: new Map(), outcomes: new Map(), costs: new Map(), ...extra };
}

/** Units as thousandths, the way activity totals arrive. */
const units = (n: number) => BigInt(Math.round(n * 1000));

const TIERS = [
  { up_to: 1000, unit_amount: 2 },
  { up_to: 5000, unit_amount: 1.5 },
  { up_to: null, unit_amount: 1 },
];

// Each row: components, usage, expected line amounts, expected subtotal. Amounts hand-computed in the comments.
const FIXTURES: { name: string; components: unknown[]; usage: UsageTotals; extra?: Partial<ModelTerms>; amounts: number[]; subtotal: number; tax?: number }[] =
  [
    {
      // 1000 × 2 = 2000; 4000 × 1.5 = 6000; 1200 × 1 = 1200
      name: "graduated tiers",
      components: [{ type: "activity", activity_type: "msg", tiers: TIERS, tier_mode: "graduated" }],
      usage: usage({ activities: new Map([["msg", units(6200)]]) }),
      amounts: [2000, 6000, 1200],
      subtotal: 9200,
    },
    {
      // 6200 falls in the last tier: 6200 × 1
      name: "volume tiers, the whole quantity at the last tier's price",
      components: [{ type: "activity", activity_type: "msg", tiers: TIERS, tier_mode: "volume" }],
      usage: usage({ activities: new Map([["msg", units(6200)]]) }),
      amounts: [6200],
      subtotal: 6200,
    },
    {
      // 3000 falls in tier 2: 3000 × 1.5
      name: "volume tiers, a middle tier",
      components: [{ type: "activity", activity_type: "msg", tiers: TIERS, tier_mode: "volume" }],
      usage: usage({ activities: new Map([["msg", units(3000)]]) }),
      amounts: [4500],
      subtotal: 4500,
    },
    {
      // exactly 1000 belongs to tier 1: 1000 × 2
      name: "volume tiers at a tier boundary",
      components: [{ type: "activity", activity_type: "msg", tiers: TIERS, tier_mode: "volume" }],
      usage: usage({ activities: new Map([["msg", units(1000)]]) }),
      amounts: [2000],
      subtotal: 2000,
    },
    {
      // 10 free: tier 1 is units 1..10 of the billable 25 → flat 500 + 0; tier 2: 15 × 3 + flat 100 = 145
      name: "graduated tiers with flat amounts after free units",
      components: [
        {
          type: "activity",
          activity_type: "call",
          free_units: 10,
          tiers: [
            { up_to: 10, unit_amount: 0, flat_amount: 500 },
            { up_to: null, unit_amount: 3, flat_amount: 100 },
          ],
        },
      ],
      usage: usage({ activities: new Map([["call", units(35)]]) }),
      amounts: [500, 145],
      subtotal: 645,
    },
    {
      // 350 − 100 free = 250 × 2.5 = 625
      name: "free units, then a flat unit price",
      components: [{ type: "activity", activity_type: "msg", free_units: 100, unit_amount: 2.5 }],
      usage: usage({ activities: new Map([["msg", units(350)]]) }),
      amounts: [625],
      subtotal: 625,
    },
    {
      // 80 units, all free
      name: "usage under the free units costs nothing",
      components: [{ type: "activity", activity_type: "msg", free_units: 100, unit_amount: 2.5 }],
      usage: usage({ activities: new Map([["msg", units(80)]]) }),
      amounts: [0],
      subtotal: 0,
    },
    {
      // 10.5 × 0.3333 = 3.49965 → 3; 1.5 × 1 = 1.5 → 2 (half up)
      name: "fractional quantities and sub-unit prices, rounded half up once per line",
      components: [
        { type: "activity", activity_type: "tokens_k", unit_amount: 0.3333 },
        { type: "activity", activity_type: "minutes", unit_amount: 1 },
      ],
      usage: usage({
        activities: new Map([
          ["tokens_k", units(10.5)],
          ["minutes", units(1.5)],
        ]),
      }),
      amounts: [3, 2],
      subtotal: 5,
    },
    {
      // 7 × 500 = 3500; 123457 × 2.5% = 3086.425 → 3086
      name: "outcomes priced per success and as a percentage of their value",
      components: [{ type: "outcome", outcome_type: "sale", unit_amount: 500, percent_bps: 250 }],
      usage: usage({ outcomes: new Map([["sale", { count: 7, value: 123457 }]]) }),
      amounts: [3500, 3086],
      subtotal: 6586,
    },
    {
      // 20 × 2.5% = 0.5 → 1 (half up)
      name: "a percentage outcome at exactly half a minor unit",
      components: [{ type: "outcome", outcome_type: "sale", percent_bps: 250 }],
      usage: usage({ outcomes: new Map([["sale", { count: 1, value: 20 }]]) }),
      amounts: [1],
      subtotal: 1,
    },
    {
      // (10001 + 5) × 1.2 = 12007.2 → 12007; only llm: 10001 × 1.2 = 12001.2 → 12001
      name: "cost-plus over all costs and over one cost type",
      components: [
        { type: "cost_plus", markup_bps: 2000 },
        { type: "cost_plus", markup_bps: 2000, cost_type: "llm" },
      ],
      usage: usage({
        costs: new Map([
          ["llm", 10001],
          ["sms", 5],
        ]),
      }),
      amounts: [12007, 12001],
      subtotal: 24008,
    },
    {
      // base 1000 + 3 seats × 2000 = 7000 ≥ 5000: no top-up; tax 18% of 7000 = 1260
      name: "base fee and seats over the minimum, with tax",
      components: [{ type: "seat", unit_amount: 2000 }],
      usage: usage({ seats: 3 }),
      extra: { baseFee: 1000, minimumCommitment: 5000, taxRateBps: 1800 },
      amounts: [1000, 6000],
      subtotal: 7000,
      tax: 1260,
    },
    {
      // base 1000 + 80 × 2.5 = 200 → 1200 < 5000: top-up 3800; tax 18% of 5000 = 900
      name: "a minimum commitment tops up the subtotal",
      components: [{ type: "activity", activity_type: "msg", unit_amount: 2.5 }],
      usage: usage({ activities: new Map([["msg", units(80)]]) }),
      extra: { baseFee: 1000, minimumCommitment: 5000, taxRateBps: 1800 },
      amounts: [1000, 200, 3800],
      subtotal: 5000,
      tax: 900,
    },
  ];

describe("the usage pricing rule", () => {
  it.each(FIXTURES)("computes $name", (fixture) => {
    const charges = computeCharges(terms(fixture.components, fixture.extra), fixture.usage);
    expect(charges.lines.map((l) => l.amount)).toEqual(fixture.amounts);
    expect(charges.subtotal).toBe(fixture.subtotal);
    expect(charges.tax).toBe(fixture.tax ?? 0);
    expect(charges.total).toBe(fixture.subtotal + (fixture.tax ?? 0));
  });

  it("names the quantities it charged for", () => {
    const charges = computeCharges(
      terms([{ type: "activity", activity_type: "msg", free_units: 100, unit_amount: 2.5 }]),
      usage({ activities: new Map([["msg", units(350.25)]]) }),
    );
    expect(charges.lines[0]).toMatchObject({ component: "activity", quantity: "250.250", unit_amount: 2.5, amount: 626 });
    expect(charges.lines[0]?.description).toContain("100 free");
  });

  it("refuses components that cannot be priced", () => {
    expect(Component.safeParse({ type: "activity", activity_type: "msg" }).success).toBe(false);
    expect(Component.safeParse({ type: "activity", activity_type: "msg", unit_amount: 1, tiers: TIERS }).success).toBe(false);
    expect(Component.safeParse({ type: "activity", activity_type: "msg", tiers: [{ up_to: 10, unit_amount: 1 }] }).success).toBe(false);
    expect(
      Component.safeParse({
        type: "activity",
        activity_type: "msg",
        tiers: [
          { up_to: 10, unit_amount: 1 },
          { up_to: 5, unit_amount: 1 },
          { up_to: null, unit_amount: 1 },
        ],
      }).success,
    ).toBe(false);
    expect(Component.safeParse({ type: "outcome", outcome_type: "sale" }).success).toBe(false);
    expect(Component.safeParse({ type: "activity", activity_type: "msg", unit_amount: 0.00001 }).success).toBe(false);
  });
});
