/**
 * Property test of `POST /v1/billing-models/{id}/calculate`: random models and random events from
 * a seeded generator, each priced by the API and by an oracle written here, apart from the
 * production code (it imports neither engine.ts nor usage.ts). The oracle walks the raw event list
 * with BigInt amounts in 1e-7 minor units (thousandths of a unit × ten-thousandths of a minor
 * unit) and rounds each line half up once, as the pricing rule in the OpenAPI document says.
 * A failure names the seed and the case; set SEED to it to replay.
 */
import { describe, expect, it } from "vitest";
import { agentEvents, agents } from "../src/db/schema";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { testCtx } from "./harness/helpers";
import { prng, type Rng } from "./harness/prng";

const SEED = 0x5eed2026;
const CASES = 60;

const ACTIVITY_TYPES = ["message", "call", "token"] as const;
const OUTCOME_TYPES = ["meeting", "sale"] as const;
const COST_TYPES = ["llm", "phone"] as const;

// --- The generated world -------------------------------------------------------------------

interface TierSpec {
  up_to: number | null;
  /** Ten-thousandths of a minor unit. */
  unit: number;
  flat?: number;
}

type ComponentSpec =
  | { type: "seat"; unit: number; seats: "active_agents" | "manual" }
  | { type: "activity"; activityType: string; free: number; unit?: number; tiers?: TierSpec[]; mode: "graduated" | "volume" }
  | { type: "outcome"; outcomeType: string; unit?: number; percentBps?: number }
  | { type: "cost_plus"; markupBps: number; costType?: string };

interface ModelSpec {
  currency: string;
  baseFee: number;
  minimum: number;
  taxBps: number;
  components: ComponentSpec[];
}

interface AgentSpec {
  key: string;
  /** "target", "other" or null (no customer). */
  customer: "target" | "other" | null;
  status: "active" | "paused" | "archived";
}

interface EventSpec {
  agent: string;
  kind: "activity" | "cost" | "outcome";
  type: string;
  /** Thousandths of a unit. */
  quantity: number;
  amount: number | null;
  value: number | null;
  currency: string | null;
  success: boolean | null;
  at: number;
}

type Scope = { kind: "customer" } | { kind: "agent"; agent: string } | { kind: "customer_and_agent"; agent: string } | { kind: "organisation" };

interface World {
  model: ModelSpec;
  agents: AgentSpec[];
  /** The manual seat count on the target customer's billing plan, or no plan. */
  planSeats: number | null;
  from: number;
  to: number;
  events: EventSpec[];
  scopes: Scope[];
}

function tiers(rng: Rng): TierSpec[] {
  const list: TierSpec[] = [];
  let bound = 0;
  const count = rng.int(1, 4);
  for (let i = 0; i < count; i++) {
    const last = i === count - 1;
    bound += rng.int(1, 400);
    list.push({ up_to: last ? null : bound, unit: rng.int(0, 40_000), ...(rng.chance(0.4) ? { flat: rng.int(0, 2000) } : {}) });
  }
  return list;
}

function component(rng: Rng, seats: "active_agents" | "manual"): ComponentSpec {
  switch (rng.pick(["seat", "activity", "activity", "outcome", "cost_plus"] as const)) {
    case "seat":
      return { type: "seat", unit: rng.int(0, 5000), seats };
    case "activity": {
      const free = rng.chance(0.5) ? rng.int(0, 60) : 0;
      const mode = rng.pick(["graduated", "volume"] as const);
      const activityType = rng.pick(ACTIVITY_TYPES);
      return rng.chance(0.35)
        ? { type: "activity", activityType, free, unit: rng.int(0, 60_000), mode }
        : { type: "activity", activityType, free, tiers: tiers(rng), mode };
    }
    case "outcome": {
      const which = rng.int(0, 2);
      return {
        type: "outcome",
        outcomeType: rng.pick(OUTCOME_TYPES),
        ...(which !== 1 ? { unit: rng.int(0, 1500) } : {}),
        ...(which !== 0 ? { percentBps: rng.int(0, 3000) } : {}),
      };
    }
    case "cost_plus":
      return { type: "cost_plus", markupBps: rng.int(0, 5000), ...(rng.chance(0.5) ? { costType: rng.pick(COST_TYPES) } : {}) };
  }
}

function moneyCurrency(rng: Rng, model: string): string | null {
  const roll = rng.int(0, 9);
  if (roll < 3) return null;
  if (roll < 8) return model;
  return model === "USD" ? "EUR" : "USD";
}

function eventTime(rng: Rng, from: number, to: number): number {
  const roll = rng.int(0, 19);
  if (roll === 0) return from;
  if (roll === 1) return to - 1;
  if (roll === 2) return to;
  if (roll === 3) return from - rng.int(1, 5 * 86_400_000);
  if (roll === 4) return to + rng.int(0, 5 * 86_400_000);
  return from + rng.int(0, to - from - 1);
}

function generateWorld(rng: Rng): World {
  const seats = rng.pick(["active_agents", "manual"] as const);
  const model: ModelSpec = {
    currency: rng.pick(["USD", "USD", "EUR"]),
    baseFee: rng.chance(0.5) ? rng.int(0, 10_000) : 0,
    minimum: rng.chance(0.3) ? rng.int(0, 60_000) : 0,
    taxBps: rng.chance(0.5) ? rng.int(0, 2500) : 0,
    components: Array.from({ length: rng.int(1, 6) }, () => component(rng, seats)),
  };
  const statuses = ["active", "active", "paused", "archived"] as const;
  const agentList: AgentSpec[] = [
    ...Array.from({ length: rng.int(1, 3) }, (_, i) => ({ key: `t${i}`, customer: "target" as const, status: rng.pick(statuses) })),
    { key: "o0", customer: "other", status: rng.pick(statuses) },
    { key: "n0", customer: null, status: rng.pick(statuses) },
  ];
  const year = rng.int(2025, 2026);
  const month = rng.int(0, 11);
  const from = Date.UTC(year, month, 1);
  const to = Date.UTC(year, month + 1, 1);
  const events: EventSpec[] = Array.from({ length: rng.int(0, 90) }, () => {
    const kind = rng.pick(["activity", "activity", "cost", "outcome"] as const);
    const base = {
      agent: rng.pick(agentList).key,
      kind,
      at: eventTime(rng, from, to),
      quantity: 1000,
      amount: null,
      value: null,
      currency: null,
      success: null,
    };
    if (kind === "activity") {
      const type = rng.chance(0.9) ? rng.pick(ACTIVITY_TYPES) : "unpriced";
      return { ...base, type, quantity: rng.chance(0.8) ? rng.int(1, 120_000) : rng.int(1, 999) };
    }
    if (kind === "cost") return { ...base, type: rng.pick(COST_TYPES), amount: rng.int(0, 8000), currency: moneyCurrency(rng, model.currency) };
    return {
      ...base,
      type: rng.pick(OUTCOME_TYPES),
      success: rng.chance(0.65),
      value: rng.chance(0.8) ? rng.int(0, 100_000) : null,
      currency: moneyCurrency(rng, model.currency),
    };
  });
  const targetAgent = rng.pick(agentList.filter((a) => a.customer === "target")).key;
  const anyAgent = rng.pick(agentList).key;
  const second = rng.pick([{ kind: "agent", agent: anyAgent }, { kind: "customer_and_agent", agent: targetAgent }, { kind: "organisation" }] as const);
  return {
    model,
    agents: agentList,
    planSeats: seats === "manual" && rng.chance(0.7) ? rng.int(0, 25) : null,
    from,
    to,
    events,
    scopes: [{ kind: "customer" }, second],
  };
}

// --- The oracle -----------------------------------------------------------------------------

const SCALE = 10_000_000n;

function roundHalfUp(numerator: bigint, denominator: bigint): bigint {
  const whole = numerator / denominator;
  return (numerator % denominator) * 2n >= denominator ? whole + 1n : whole;
}

/** Price of `thousandths` units at `tenThousandths` per unit, rounded once. */
function priced(thousandths: bigint, tenThousandths: number): bigint {
  return roundHalfUp(thousandths * BigInt(tenThousandths), SCALE);
}

function activityAmount(c: Extract<ComponentSpec, { type: "activity" }>, total: bigint): bigint {
  const free = BigInt(c.free) * 1000n;
  const billable = total > free ? total - free : 0n;
  if (c.unit !== undefined) return priced(billable, c.unit);
  const list = c.tiers ?? [];
  if (billable === 0n) return 0n;
  if (c.mode === "volume") {
    for (const tier of list) {
      if (tier.up_to === null || billable <= BigInt(tier.up_to) * 1000n) return priced(billable, tier.unit) + BigInt(tier.flat ?? 0);
    }
    throw new Error("tiers end bounded");
  }
  let sum = 0n;
  let lower = 0n;
  for (const tier of list) {
    const upper = tier.up_to === null ? billable : BigInt(tier.up_to) * 1000n;
    const inTier = (billable < upper ? billable : upper) - lower;
    if (inTier > 0n) sum += priced(inTier, tier.unit) + BigInt(tier.flat ?? 0);
    lower = upper;
  }
  return sum;
}

interface Expected {
  byComponent: Record<string, number>;
  subtotal: number;
  tax: number;
  total: number;
}

function oracle(world: World, scope: Scope): Expected {
  const { model } = world;
  const agentByKey = new Map(world.agents.map((a) => [a.key, a]));
  const inScope = (agentKey: string) => {
    const agent = agentByKey.get(agentKey) as AgentSpec;
    if (scope.kind === "agent") return agentKey === scope.agent;
    if (scope.kind === "customer_and_agent") return agentKey === scope.agent && agent.customer === "target";
    if (scope.kind === "customer") return agent.customer === "target";
    return true;
  };
  const events = world.events.filter((e) => e.at >= world.from && e.at < world.to && inScope(e.agent));
  const countsValue = (e: EventSpec) => e.currency === null || e.currency === model.currency;

  const manual = model.components.some((c) => c.type === "seat" && c.seats === "manual");
  const billedCustomer = scope.kind === "organisation" ? null : scope.kind === "customer" ? "target" : (agentByKey.get(scope.agent)?.customer ?? null);
  const seats = manual
    ? billedCustomer === "target"
      ? (world.planSeats ?? 0)
      : 0
    : world.agents.filter((a) => a.status === "active" && inScope(a.key)).length;

  const byComponent: Record<string, bigint> = {};
  const add = (kind: string, amount: bigint) => {
    byComponent[kind] = (byComponent[kind] ?? 0n) + amount;
  };
  if (model.baseFee > 0) add("base_fee", BigInt(model.baseFee));
  for (const c of model.components) {
    if (c.type === "seat") add("seat", BigInt(seats * c.unit));
    if (c.type === "activity") {
      let units = 0n;
      for (const e of events) if (e.kind === "activity" && e.type === c.activityType) units += BigInt(e.quantity);
      add("activity", activityAmount(c, units));
    }
    if (c.type === "outcome") {
      let successes = 0n;
      let value = 0n;
      for (const e of events) {
        if (e.kind !== "outcome" || e.type !== c.outcomeType || e.success !== true) continue;
        successes += 1n;
        if (countsValue(e)) value += BigInt(e.value ?? 0);
      }
      if (c.unit !== undefined) add("outcome", successes * BigInt(c.unit));
      if (c.percentBps !== undefined) add("outcome", roundHalfUp(value * BigInt(c.percentBps), 10_000n));
    }
    if (c.type === "cost_plus") {
      let costs = 0n;
      for (const e of events) if (e.kind === "cost" && countsValue(e) && (c.costType === undefined || e.type === c.costType)) costs += BigInt(e.amount ?? 0);
      add("cost_plus", roundHalfUp(costs * BigInt(10_000 + c.markupBps), 10_000n));
    }
  }
  const usage = Object.values(byComponent).reduce((a, b) => a + b, 0n);
  if (usage < BigInt(model.minimum)) add("minimum_commitment", BigInt(model.minimum) - usage);
  const subtotal = Object.values(byComponent).reduce((a, b) => a + b, 0n);
  const tax = roundHalfUp(subtotal * BigInt(model.taxBps), 10_000n);
  return {
    byComponent: Object.fromEntries(Object.entries(byComponent).map(([k, v]) => [k, Number(v)])),
    subtotal: Number(subtotal),
    tax: Number(tax),
    total: Number(subtotal + tax),
  };
}

// --- Writing the world and asking the API --------------------------------------------------

function componentBody(c: ComponentSpec): Record<string, unknown> {
  switch (c.type) {
    case "seat":
      return { type: "seat", unit_amount: c.unit, seats: c.seats };
    case "activity":
      return {
        type: "activity",
        activity_type: c.activityType,
        free_units: c.free,
        tier_mode: c.mode,
        ...(c.unit !== undefined ? { unit_amount: c.unit / 10_000 } : {}),
        ...(c.tiers
          ? { tiers: c.tiers.map((t) => ({ up_to: t.up_to, unit_amount: t.unit / 10_000, ...(t.flat !== undefined ? { flat_amount: t.flat } : {}) })) }
          : {}),
      };
    case "outcome":
      return { type: "outcome", outcome_type: c.outcomeType, unit_amount: c.unit, percent_bps: c.percentBps };
    case "cost_plus":
      return { type: "cost_plus", markup_bps: c.markupBps, cost_type: c.costType };
  }
}

function thousandthsText(thousandths: number): string {
  return `${Math.floor(thousandths / 1000)}.${String(thousandths % 1000).padStart(3, "0")}`;
}

interface Written {
  modelId: string;
  customerId: string;
  agentIds: Map<string, string>;
}

async function writeWorld(owner: SignedUp, world: World, label: string): Promise<Written> {
  const post = async (path: string, body: unknown) => expectJson<{ id: string }>(await call(path, { token: owner.access_token, body }), 201);
  const target = await post("/v1/customers", { name: `Target ${label}` });
  const other = await post("/v1/customers", { name: `Other ${label}` });
  const model = await post("/v1/billing-models", {
    name: `Model ${label}`,
    currency: world.model.currency,
    base_fee: world.model.baseFee,
    minimum_commitment: world.model.minimum,
    tax_rate_bps: world.model.taxBps,
    components: world.model.components.map(componentBody),
  });
  if (world.planSeats !== null) {
    await expectJson(
      await call(`/v1/customers/${target.id}/billing-plan`, { method: "PUT", token: owner.access_token, body: { model_id: model.id, seats: world.planSeats } }),
      200,
    );
  }
  const db = testCtx().db;
  const agentIds = new Map(world.agents.map((a) => [a.key, `agt_${label}_${a.key}`]));
  await db.insert(agents).values(
    world.agents.map((a) => ({
      id: agentIds.get(a.key) as string,
      orgId: owner.orgId,
      customerId: a.customer === "target" ? target.id : a.customer === "other" ? other.id : null,
      name: `Agent ${a.key}`,
      status: a.status,
    })),
  );
  if (world.events.length > 0) {
    await db.insert(agentEvents).values(
      world.events.map((e, n) => ({
        orgId: owner.orgId,
        id: `evt_${label}_${n}`,
        agentId: agentIds.get(e.agent) as string,
        kind: e.kind,
        type: e.type,
        quantity: thousandthsText(e.quantity),
        amount: e.amount,
        currency: e.currency,
        value: e.value,
        success: e.success,
        occurredAt: new Date(e.at),
      })),
    );
  }
  return { modelId: model.id, customerId: target.id, agentIds };
}

function scopeBody(scope: Scope, written: Written): Record<string, string> {
  const agent = (key: string) => written.agentIds.get(key) as string;
  if (scope.kind === "customer") return { customer_id: written.customerId };
  if (scope.kind === "agent") return { agent_id: agent(scope.agent) };
  if (scope.kind === "customer_and_agent") return { customer_id: written.customerId, agent_id: agent(scope.agent) };
  return {};
}

function nonZero(amounts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(amounts).filter(([, amount]) => amount !== 0));
}

interface Calculation {
  lines: { component: string; amount: number }[];
  subtotal: number;
  tax: number;
  total: number;
}

describe("calculate against an independent oracle", () => {
  for (let index = 0; index < CASES; index++) {
    it(`agrees on random case ${index} of seed ${SEED}`, async () => {
      const rng = prng(SEED ^ Math.imul(index + 1, 0x9e3779b9));
      const world = generateWorld(rng);
      const owner = await signUp(`prop${index}`);
      const written = await writeWorld(owner, world, String(index));
      for (const scope of world.scopes) {
        const context = `seed ${SEED}, case ${index}, scope ${JSON.stringify(scope)}, model ${JSON.stringify(world.model)}`;
        const response = await call(`/v1/billing-models/${written.modelId}/calculate`, {
          token: owner.access_token,
          body: { from: new Date(world.from).toISOString(), to: new Date(world.to).toISOString(), ...scopeBody(scope, written) },
        });
        const result = await expectJson<Calculation>(response, 200);
        const expected = oracle(world, scope);
        const byComponent: Record<string, number> = {};
        for (const line of result.lines) byComponent[line.component] = (byComponent[line.component] ?? 0) + line.amount;
        // Lines that charge nothing (a component with no usage) carry no information to compare.
        expect(nonZero(byComponent), context).toEqual(nonZero(expected.byComponent));
        expect({ subtotal: result.subtotal, tax: result.tax, total: result.total }, context).toEqual({
          subtotal: expected.subtotal,
          tax: expected.tax,
          total: expected.total,
        });
      }
    });
  }
});
