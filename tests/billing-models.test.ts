import { and, count, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agentEvents, agents, auditEvents, billingModels, billingModelVersions, customerBillingPlans, invoices } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface BillingModel {
  id: string;
  name: string;
  version: number;
  versions: number;
  currency: string;
  period: string;
  base_fee: number;
  minimum_commitment: number;
  tax_rate_bps: number;
  components: Record<string, unknown>[];
  archived_at: string | null;
  created_at: string;
  updated_at: string;
}

interface ModelVersion extends Omit<BillingModel, "id" | "name" | "versions" | "archived_at" | "updated_at"> {
  model_id: string;
  created_by: string | null;
}

interface Calculation {
  model_id: string;
  version: number;
  currency: string;
  from: string;
  to: string;
  lines: { component: string; description: string; quantity: string; unit_amount: number | null; amount: number }[];
  subtotal: number;
  tax_rate_bps: number;
  tax: number;
  total: number;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const SIMPLE = { name: "Per message", components: [{ type: "activity", activity_type: "message", unit_amount: 2 }] };

async function createModel(owner: SignedUp, body: Record<string, unknown>): Promise<BillingModel> {
  return expectJson<BillingModel>(await call("/v1/billing-models", { token: owner.access_token, body }), 201);
}

function patchModel(owner: SignedUp, id: string, body: Record<string, unknown>): Promise<Response> {
  return call(`/v1/billing-models/${id}`, { method: "PATCH", token: owner.access_token, body });
}

async function createCustomer(owner: SignedUp, name: string): Promise<string> {
  return (await expectJson<{ id: string }>(await call("/v1/customers", { token: owner.access_token, body: { name } }), 201)).id;
}

function calculate(owner: SignedUp, modelId: string, body: Record<string, unknown>): Promise<Response> {
  return call(`/v1/billing-models/${modelId}/calculate`, { token: owner.access_token, body });
}

/** An agent row written straight to the test database (the agents API belongs to another module). */
async function insertAgent(orgId: string, customerId: string | null, status: "active" | "paused" | "archived" = "active"): Promise<string> {
  const id = newId("agt");
  await testCtx()
    .db.insert(agents)
    .values({ id, orgId, customerId, name: `Agent ${id.slice(-4)}`, status });
  return id;
}

interface EventInput {
  agentId: string;
  kind: "activity" | "cost" | "outcome";
  type: string;
  at: string;
  quantity?: string;
  amount?: number;
  currency?: string;
  value?: number;
  success?: boolean;
}

async function insertEvents(orgId: string, events: EventInput[]): Promise<void> {
  await testCtx()
    .db.insert(agentEvents)
    .values(
      events.map((e) => ({
        orgId,
        id: newId("use"),
        agentId: e.agentId,
        kind: e.kind,
        type: e.type,
        quantity: e.quantity ?? "1",
        amount: e.amount ?? null,
        currency: e.currency ?? null,
        value: e.value ?? null,
        success: e.success ?? null,
        occurredAt: new Date(e.at),
      })),
    );
}

describe("creating billing models", () => {
  it("writes version 1 with defaults filled in, in the organisation's currency", async () => {
    const owner = await signUp("bm-create");
    const created = await createModel(owner, {
      name: "Pro agents",
      base_fee: 5000,
      tax_rate_bps: 1800,
      components: [
        { type: "seat", unit_amount: 2000 },
        {
          type: "activity",
          activity_type: "message",
          tiers: [
            { up_to: 1000, unit_amount: 1 },
            { up_to: null, unit_amount: 0.5 },
          ],
        },
      ],
    });
    expect(created).toEqual({
      id: expect.stringMatching(/^bmd_/),
      name: "Pro agents",
      version: 1,
      versions: 1,
      currency: "USD",
      period: "month",
      base_fee: 5000,
      minimum_commitment: 0,
      tax_rate_bps: 1800,
      components: [
        { type: "seat", unit_amount: 2000, seats: "active_agents" },
        {
          type: "activity",
          activity_type: "message",
          free_units: 0,
          tier_mode: "graduated",
          tiers: [
            { up_to: 1000, unit_amount: 1 },
            { up_to: null, unit_amount: 0.5 },
          ],
        },
      ],
      archived_at: null,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const db = testCtx().db;
    const [model] = await db.select().from(billingModels).where(eq(billingModels.id, created.id));
    expect(model).toMatchObject({ orgId: owner.orgId, currentVersion: 1 });
    const versions = await db.select().from(billingModelVersions).where(eq(billingModelVersions.modelId, created.id));
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ version: 1, currency: "USD", baseFee: 5000, taxRateBps: 1800, createdBy: owner.user.id });
    const audit = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, owner.orgId), eq(auditEvents.targetId, created.id)));
    expect(audit.map((a) => a.action)).toEqual(["billing_model.created"]);
  });

  it("takes a currency given in lower case, and the organisation's own when none is given", async () => {
    const owner = await signUp("bm-currency");
    expect((await createModel(owner, { ...SIMPLE, name: "Euro", currency: "eur" })).currency).toBe("EUR");
    await expectJson(await call(`/v1/orgs/${owner.orgId}`, { method: "PATCH", token: owner.access_token, body: { currency: "INR" } }), 200);
    expect((await createModel(owner, { ...SIMPLE, name: "Rupee" })).currency).toBe("INR");
  });

  it("refuses a second model with the same name, whatever its case, with 409", async () => {
    const owner = await signUp("bm-dup");
    await createModel(owner, { ...SIMPLE, name: "Starter" });
    const problem = await expectProblem(await call("/v1/billing-models", { token: owner.access_token, body: { ...SIMPLE, name: "STARTER" } }), 409);
    expect(problem.detail).toContain("STARTER");
    const other = await signUp("bm-dup-other");
    await createModel(other, { ...SIMPLE, name: "Starter" });
  });

  it("answers 422 naming the field of each mistake, and stores nothing", async () => {
    const owner = await signUp("bm-invalid");
    const paths = async (body: Record<string, unknown>) =>
      (await expectProblem(await call("/v1/billing-models", { token: owner.access_token, body }), 422)).errors?.map((e) => e.path);
    expect(await paths({ name: "X", components: [] })).toEqual(["components"]);
    expect(await paths({ name: "X", currency: "dollars", components: SIMPLE.components })).toEqual(["currency"]);
    expect(await paths({ name: "X", components: [{ type: "discount" }] })).toEqual(["components.0.type"]);
    expect(
      await paths({
        name: "X",
        components: [
          { type: "seat", unit_amount: 100 },
          { type: "activity", activity_type: "m", unit_amount: 1, tiers: [{ up_to: null, unit_amount: 1 }] },
        ],
      }),
    ).toEqual(["components.1.unit_amount"]);
    expect(
      await paths({
        name: "X",
        components: [
          {
            type: "activity",
            activity_type: "m",
            tiers: [
              { up_to: 100, unit_amount: 1 },
              { up_to: 50, unit_amount: 1 },
              { up_to: null, unit_amount: 1 },
            ],
          },
        ],
      }),
    ).toEqual(["components.0.tiers"]);
    expect(await paths({ name: "X", components: [{ type: "activity", activity_type: "m", unit_amount: 1.00001 }] })).toEqual(["components.0.unit_amount"]);
    expect(await paths({ name: "X", components: [{ type: "outcome", outcome_type: "sale" }] })).toEqual(["components.0.unit_amount"]);
    expect(await paths({ name: "X", tax_rate_bps: 10001, base_fee: -1, components: SIMPLE.components })).toEqual(["base_fee", "tax_rate_bps"]);
    expect(
      await paths({
        name: "X",
        components: [
          { type: "seat", unit_amount: 100, seats: "manual" },
          { type: "seat", unit_amount: 100, seats: "active_agents" },
        ],
      }),
    ).toEqual(["components"]);
    expect(await paths({ name: "X", components: Array.from({ length: 51 }, () => ({ type: "cost_plus", markup_bps: 0 })) })).toEqual(["components"]);
    expect(await testCtx().db.select().from(billingModels).where(eq(billingModels.orgId, owner.orgId))).toEqual([]);
  });
});

describe("reading billing models", () => {
  it("lists models that are not archived, oldest first, paged and searchable by name", async () => {
    const owner = await signUp("bm-list");
    const a = await createModel(owner, { ...SIMPLE, name: "Agents Basic" });
    const b = await createModel(owner, { ...SIMPLE, name: "Agents Pro" });
    const c = await createModel(owner, { ...SIMPLE, name: "Enterprise 100%" });
    const first = await expectJson<Page<BillingModel>>(await call("/v1/billing-models?limit=2", { token: owner.access_token }), 200);
    expect(first.data.map((m) => m.id)).toEqual([a.id, b.id]);
    const second = await expectJson<Page<BillingModel>>(
      await call(`/v1/billing-models?limit=2&cursor=${first.next_cursor}`, { token: owner.access_token }),
      200,
    );
    expect(second).toMatchObject({ data: [{ id: c.id }], next_cursor: null });
    const search = async (q: string) =>
      (await expectJson<Page<BillingModel>>(await call(`/v1/billing-models?q=${encodeURIComponent(q)}`, { token: owner.access_token }), 200)).data.map(
        (m) => m.id,
      );
    expect(await search("pro")).toEqual([b.id]);
    expect(await search("%")).toEqual([c.id]);

    expect((await call(`/v1/billing-models/${a.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    expect(await search("agents")).toEqual([b.id]);
    const archived = await expectJson<BillingModel>(await call(`/v1/billing-models/${a.id}`, { token: owner.access_token }), 200);
    expect(archived.archived_at).toMatch(/Z$/);
  });

  it("answers 404 for an unknown model or version", async () => {
    const owner = await signUp("bm-404");
    const model = await createModel(owner, SIMPLE);
    await expectProblem(await call("/v1/billing-models/bmd_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", { token: owner.access_token }), 404);
    for (const version of ["2", "0", "abc", "1.0"]) {
      await expectProblem(await call(`/v1/billing-models/${model.id}/versions/${version}`, { token: owner.access_token }), 404);
    }
    const v1 = await expectJson<ModelVersion>(await call(`/v1/billing-models/${model.id}/versions/1`, { token: owner.access_token }), 200);
    expect(v1).toMatchObject({ model_id: model.id, version: 1, created_by: owner.user.id });
  });
});

describe("editing billing models", () => {
  it("writes the changed terms as version 2 and leaves version 1 exactly as it was", async () => {
    const owner = await signUp("bm-edit");
    const model = await createModel(owner, { ...SIMPLE, base_fee: 1000, tax_rate_bps: 500 });
    const db = testCtx().db;
    const [v1Before] = await db.select().from(billingModelVersions).where(eq(billingModelVersions.modelId, model.id));

    const edited = await expectJson<BillingModel>(
      await patchModel(owner, model.id, { tax_rate_bps: 1800, components: [{ type: "cost_plus", markup_bps: 2000 }] }),
      200,
    );
    expect(edited).toMatchObject({
      id: model.id,
      version: 2,
      versions: 2,
      base_fee: 1000,
      tax_rate_bps: 1800,
      components: [{ type: "cost_plus", markup_bps: 2000 }],
    });
    expect(await expectJson<BillingModel>(await call(`/v1/billing-models/${model.id}`, { token: owner.access_token }), 200)).toEqual(edited);

    const v1 = await expectJson<ModelVersion>(await call(`/v1/billing-models/${model.id}/versions/1`, { token: owner.access_token }), 200);
    expect(v1).toMatchObject({ version: 1, base_fee: 1000, tax_rate_bps: 500, components: model.components });
    const rows = await db.select().from(billingModelVersions).where(eq(billingModelVersions.modelId, model.id)).orderBy(billingModelVersions.version);
    expect(rows.map((r) => r.version)).toEqual([1, 2]);
    expect(rows[0]).toEqual(v1Before);
  });

  it("renames without writing a version, and refuses a name another model has", async () => {
    const owner = await signUp("bm-rename");
    const model = await createModel(owner, SIMPLE);
    await createModel(owner, { ...SIMPLE, name: "Taken" });
    const renamed = await expectJson<BillingModel>(await patchModel(owner, model.id, { name: "Renamed" }), 200);
    expect(renamed).toMatchObject({ name: "Renamed", version: 1, versions: 1 });
    await expectProblem(await patchModel(owner, model.id, { name: "taken", base_fee: 10 }), 409);
    const rows = await testCtx().db.select().from(billingModelVersions).where(eq(billingModelVersions.modelId, model.id));
    expect(rows).toHaveLength(1);
  });

  it("gives concurrent edits distinct, consecutive versions", async () => {
    const owner = await signUp("bm-race");
    const model = await createModel(owner, SIMPLE);
    const responses = await Promise.all([1, 2, 3, 4, 5].map((fee) => patchModel(owner, model.id, { base_fee: fee * 100 })));
    const versions = await Promise.all(responses.map(async (r) => (await expectJson<BillingModel>(r, 200)).version));
    expect([...versions].sort()).toEqual([2, 3, 4, 5, 6]);
    const db = testCtx().db;
    const rows = await db.select().from(billingModelVersions).where(eq(billingModelVersions.modelId, model.id)).orderBy(billingModelVersions.version);
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(rows.slice(1).map((r) => r.baseFee))).toEqual(new Set([100, 200, 300, 400, 500]));
    const [row] = await db.select().from(billingModels).where(eq(billingModels.id, model.id));
    expect(row?.currentVersion).toBe(6);
  });

  it("refuses an empty edit with 422 and an edit of an archived model with 409", async () => {
    const owner = await signUp("bm-edit-refused");
    const model = await createModel(owner, SIMPLE);
    await expectProblem(await patchModel(owner, model.id, {}), 422);
    const badTier = await expectProblem(await patchModel(owner, model.id, { components: [{ type: "activity", activity_type: "m", tiers: [] }] }), 422);
    expect(badTier.errors?.map((e) => e.path)).toEqual(["components.0.tiers"]);
    expect((await call(`/v1/billing-models/${model.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    expect((await call(`/v1/billing-models/${model.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    await expectProblem(await patchModel(owner, model.id, { base_fee: 1 }), 409);
    const rows = await testCtx().db.select().from(billingModelVersions).where(eq(billingModelVersions.modelId, model.id));
    expect(rows).toHaveLength(1);
  });
});

describe("customer billing plans", () => {
  it("puts a customer on a model, moves it to another, and takes it off", async () => {
    const owner = await signUp("bm-plan");
    const customerId = await createCustomer(owner, "Acme");
    const first = await createModel(owner, SIMPLE);
    const second = await createModel(owner, { ...SIMPLE, name: "Second" });
    const path = `/v1/customers/${customerId}/billing-plan`;
    await expectProblem(await call(path, { token: owner.access_token }), 404);

    const plan = await expectJson(await call(path, { method: "PUT", token: owner.access_token, body: { model_id: first.id, seats: 3 } }), 200);
    expect(plan).toEqual({
      customer_id: customerId,
      model_id: first.id,
      seats: 3,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const moved = await expectJson(await call(path, { method: "PUT", token: owner.access_token, body: { model_id: second.id } }), 200);
    expect(moved).toMatchObject({ model_id: second.id, seats: null });
    expect(await expectJson(await call(path, { token: owner.access_token }), 200)).toEqual(moved);
    const rows = await testCtx().db.select().from(customerBillingPlans).where(eq(customerBillingPlans.orgId, owner.orgId));
    expect(rows.map((r) => [r.customerId, r.modelId])).toEqual([[customerId, second.id]]);

    expect((await call(path, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    await expectProblem(await call(path, { token: owner.access_token }), 404);
    await expectProblem(await call(path, { method: "DELETE", token: owner.access_token }), 404);
  });

  it("refuses an archived or unknown model with 422 on model_id, and an unknown customer with 404", async () => {
    const owner = await signUp("bm-plan-refused");
    const customerId = await createCustomer(owner, "Acme");
    const model = await createModel(owner, SIMPLE);
    await call(`/v1/billing-models/${model.id}`, { method: "DELETE", token: owner.access_token });
    const path = `/v1/customers/${customerId}/billing-plan`;
    for (const modelId of [model.id, "bmd_01JD3X6W6X8Q3M1B0V4T2Y9ZKA"]) {
      const problem = await expectProblem(await call(path, { method: "PUT", token: owner.access_token, body: { model_id: modelId } }), 422);
      expect(problem.errors?.map((e) => e.path)).toEqual(["model_id"]);
    }
    const bad = await expectProblem(await call(path, { method: "PUT", token: owner.access_token, body: { model_id: model.id, seats: -1 } }), 422);
    expect(bad.errors?.map((e) => e.path)).toEqual(["seats"]);
    await expectProblem(
      await call("/v1/customers/cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKA/billing-plan", { method: "PUT", token: owner.access_token, body: { model_id: model.id } }),
      404,
    );
    expect(await testCtx().db.select().from(customerBillingPlans).where(eq(customerBillingPlans.orgId, owner.orgId))).toEqual([]);
  });
});

/**
 * One customer with an active and a paused agent, another customer with an agent, events in
 * and around May 2026. Amounts in the tests below are computed by hand from these.
 */
async function usageFixture(owner: SignedUp) {
  const customer = await createCustomer(owner, "Acme");
  const other = await createCustomer(owner, "Other Co");
  const a1 = await insertAgent(owner.orgId, customer, "active");
  const a2 = await insertAgent(owner.orgId, customer, "paused");
  const b1 = await insertAgent(owner.orgId, other, "active");
  await insertEvents(owner.orgId, [
    { agentId: a1, kind: "activity", type: "message", quantity: "700.500", at: "2026-05-01T00:00:00Z" },
    { agentId: a2, kind: "activity", type: "message", quantity: "650.250", at: "2026-05-20T10:00:00Z" },
    { agentId: a1, kind: "activity", type: "message", quantity: "999", at: "2026-06-01T00:00:00Z" },
    { agentId: a1, kind: "activity", type: "message", quantity: "50", at: "2026-04-30T23:59:59.999Z" },
    { agentId: a1, kind: "activity", type: "call", quantity: "5", at: "2026-05-03T00:00:00Z" },
    { agentId: a1, kind: "outcome", type: "meeting", value: 10000, currency: "USD", success: true, at: "2026-05-02T00:00:00Z" },
    { agentId: a1, kind: "outcome", type: "meeting", value: 3000, success: true, at: "2026-05-03T00:00:00Z" },
    { agentId: a2, kind: "outcome", type: "meeting", value: 7000, currency: "EUR", success: true, at: "2026-05-04T00:00:00Z" },
    { agentId: a1, kind: "outcome", type: "meeting", value: 99999, currency: "USD", success: false, at: "2026-05-05T00:00:00Z" },
    { agentId: a1, kind: "cost", type: "llm", amount: 1234, currency: "USD", at: "2026-05-06T00:00:00Z" },
    { agentId: a2, kind: "cost", type: "llm", amount: 800, at: "2026-05-07T00:00:00Z" },
    { agentId: a1, kind: "cost", type: "llm", amount: 5000, currency: "EUR", at: "2026-05-08T00:00:00Z" },
    { agentId: b1, kind: "activity", type: "message", quantity: "10000", at: "2026-05-09T00:00:00Z" },
    { agentId: b1, kind: "cost", type: "llm", amount: 9999, currency: "USD", at: "2026-05-09T00:00:00Z" },
  ]);
  return { customer, other, a1, a2, b1 };
}

const HYBRID = {
  name: "Hybrid",
  base_fee: 5000,
  tax_rate_bps: 1000,
  components: [
    { type: "seat", unit_amount: 2000 },
    {
      type: "activity",
      activity_type: "message",
      free_units: 100,
      tiers: [
        { up_to: 1000, unit_amount: 1 },
        { up_to: null, unit_amount: 0.5, flat_amount: 300 },
      ],
    },
    { type: "outcome", outcome_type: "meeting", unit_amount: 500, percent_bps: 250 },
    { type: "cost_plus", markup_bps: 2000 },
  ],
};

const MAY = { from: "2026-05-01", to: "2026-06-01" };

describe("calculating charges", () => {
  it("prices a customer's agents' events in [from, to) with every component, by hand", async () => {
    const owner = await signUp("bm-calc");
    const { customer } = await usageFixture(owner);
    const model = await createModel(owner, HYBRID);
    const result = await expectJson<Calculation>(await calculate(owner, model.id, { ...MAY, customer_id: customer }), 200);
    // Messages 700.5 + 650.25 = 1350.75 (the one at 2026-06-01T00:00Z and the one before May are out), 100 free:
    // tier 1: 1000 × 1 = 1000; tier 2: 250.75 × 0.5 = 125.375 → 125, + flat 300 = 425.
    // Seats: one active agent (the paused one is not a seat). Meetings: 3 successful × 500 = 1500 (the EUR one
    // counts, its value does not); 2.5% of 10000 + 3000 = 325. Costs 1234 + 800 (no currency = USD) = 2034 × 1.2 = 2440.8 → 2441.
    // Subtotal 5000 + 2000 + 1000 + 425 + 1500 + 325 + 2441 = 12691; tax 10% = 1269.1 → 1269.
    expect(result).toEqual({
      model_id: model.id,
      version: 1,
      currency: "USD",
      from: "2026-05-01T00:00:00.000Z",
      to: "2026-06-01T00:00:00.000Z",
      lines: [
        { component: "base_fee", description: "Base fee", quantity: "1.000", unit_amount: 5000, amount: 5000 },
        { component: "seat", description: expect.any(String), quantity: "1.000", unit_amount: 2000, amount: 2000 },
        { component: "activity", description: expect.stringContaining("tier 1"), quantity: "1000.000", unit_amount: 1, amount: 1000 },
        { component: "activity", description: expect.stringContaining("tier 2"), quantity: "250.750", unit_amount: 0.5, amount: 425 },
        { component: "outcome", description: expect.any(String), quantity: "3.000", unit_amount: 500, amount: 1500 },
        { component: "outcome", description: expect.any(String), quantity: "13000.000", unit_amount: null, amount: 325 },
        { component: "cost_plus", description: expect.any(String), quantity: "2034.000", unit_amount: null, amount: 2441 },
      ],
      subtotal: 12691,
      tax_rate_bps: 1000,
      tax: 1269,
      total: 13960,
    });
  });

  it("prices one agent's events, and the whole organisation's without a scope", async () => {
    const owner = await signUp("bm-calc-agent");
    const { a1 } = await usageFixture(owner);
    const model = await createModel(owner, HYBRID);
    const agent = await expectJson<Calculation>(await calculate(owner, model.id, { ...MAY, agent_id: a1 }), 200);
    // 700.5 − 100 = 600.5 × 1 → 601 (half up); meetings 2 × 500 = 1000, 2.5% of 13000 = 325; costs 1234 × 1.2 = 1480.8 → 1481.
    // 5000 + 2000 + 601 + 1000 + 325 + 1481 = 10407; tax 1040.7 → 1041.
    expect(agent.lines.map((l) => l.amount)).toEqual([5000, 2000, 601, 1000, 325, 1481]);
    expect([agent.subtotal, agent.tax, agent.total]).toEqual([10407, 1041, 11448]);

    const everyone = await expectJson<Calculation>(await calculate(owner, model.id, MAY), 200);
    // Two active agents; messages 11350.75 − 100 = 11250.75: 1000 + (10250.75 × 0.5 = 5125.375 → 5125) + 300;
    // costs 2034 + 9999 = 12033 × 1.2 = 14439.6 → 14440.
    expect(everyone.lines.map((l) => l.amount)).toEqual([5000, 4000, 1000, 5425, 1500, 325, 14440]);
    expect(everyone.subtotal).toBe(31690);
  });

  it("adds the shortfall under a minimum commitment, uses manual seats from the billing plan, and prices with a named version", async () => {
    const owner = await signUp("bm-calc-min");
    const { customer } = await usageFixture(owner);
    const model = await createModel(owner, {
      name: "Minimum",
      minimum_commitment: 20000,
      components: [
        { type: "seat", unit_amount: 1500, seats: "manual" },
        { type: "activity", activity_type: "message", unit_amount: 2 },
      ],
    });
    // No plan yet: no manual seats. 1350.75 × 2 = 2701.5 → 2702; shortfall 20000 − 2702 = 17298.
    const before = await expectJson<Calculation>(await calculate(owner, model.id, { ...MAY, customer_id: customer }), 200);
    expect(before.lines.map((l) => [l.component, l.amount])).toEqual([
      ["seat", 0],
      ["activity", 2702],
      ["minimum_commitment", 17298],
    ]);
    expect(before.total).toBe(20000);

    await expectJson(
      await call(`/v1/customers/${customer}/billing-plan`, { method: "PUT", token: owner.access_token, body: { model_id: model.id, seats: 7 } }),
      200,
    );
    await expectJson(await patchModel(owner, model.id, { minimum_commitment: 0, tax_rate_bps: 1800 }), 200);
    // Version 2: 7 × 1500 = 10500 + 2702 = 13202, tax 18% = 2376.36 → 2376.
    const current = await expectJson<Calculation>(await calculate(owner, model.id, { ...MAY, customer_id: customer }), 200);
    expect(current).toMatchObject({ version: 2, subtotal: 13202, tax: 2376, total: 15578 });
    const first = await expectJson<Calculation>(await calculate(owner, model.id, { ...MAY, customer_id: customer, version: 1 }), 200);
    // Version 1 with 7 seats: 10500 + 2702 = 13202, still 6798 short of its minimum of 20000.
    expect(first.lines.map((l) => [l.component, l.amount])).toEqual([
      ["seat", 10500],
      ["activity", 2702],
      ["minimum_commitment", 6798],
    ]);
    expect(first).toMatchObject({ version: 1, subtotal: 20000, tax: 0, total: 20000 });
  });

  it("creates nothing", async () => {
    const owner = await signUp("bm-calc-nothing");
    const { customer } = await usageFixture(owner);
    const model = await createModel(owner, HYBRID);
    const db = testCtx().db;
    const counts = async () => ({
      events: (await db.select({ n: count() }).from(agentEvents).where(eq(agentEvents.orgId, owner.orgId)))[0]?.n,
      invoices: (await db.select({ n: count() }).from(invoices).where(eq(invoices.orgId, owner.orgId)))[0]?.n,
      versions: (await db.select({ n: count() }).from(billingModelVersions).where(eq(billingModelVersions.modelId, model.id)))[0]?.n,
      audit: (await db.select({ n: count() }).from(auditEvents).where(eq(auditEvents.orgId, owner.orgId)))[0]?.n,
    });
    const before = await counts();
    await expectJson(await calculate(owner, model.id, { ...MAY, customer_id: customer }), 200);
    expect(await counts()).toEqual(before);
  });

  it("answers 422 naming the field for an empty period, an unknown agent, customer or version, and a bad date", async () => {
    const owner = await signUp("bm-calc-422");
    const other = await signUp("bm-calc-422-other");
    const { customer, b1 } = await usageFixture(owner);
    const foreignCustomer = await createCustomer(other, "Not yours");
    const foreignAgent = await insertAgent(other.orgId, foreignCustomer);
    const model = await createModel(owner, HYBRID);
    const paths = async (body: Record<string, unknown>) => (await expectProblem(await calculate(owner, model.id, body), 422)).errors?.map((e) => e.path);
    expect(await paths({ from: "2026-06-01", to: "2026-06-01" })).toEqual(["to"]);
    expect(await paths({ from: "2026-06-01", to: "2026-05-01" })).toEqual(["to"]);
    expect(await paths({ ...MAY, agent_id: foreignAgent })).toEqual(["agent_id"]);
    expect(await paths({ ...MAY, customer_id: foreignCustomer })).toEqual(["customer_id"]);
    expect(await paths({ ...MAY, customer_id: customer, agent_id: b1 })).toEqual(["agent_id"]);
    expect(await paths({ ...MAY, version: 2 })).toEqual(["version"]);
    expect(await paths({ from: "2026-02-30", to: "2026-05-01T00:00:00" })).toEqual(["from", "to"]);
    await expectProblem(await calculate(owner, "bmd_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", MAY), 404);
  });

  it("reads date-times with offsets as the instants they name", async () => {
    const owner = await signUp("bm-calc-offset");
    const { customer } = await usageFixture(owner);
    const model = await createModel(owner, { name: "Messages", components: [{ type: "activity", activity_type: "message", unit_amount: 1 }] });
    // 2026-05-01T05:30+05:30 is midnight UTC: the 700.5 at midnight is in, the 650.25 on the 20th is not.
    const result = await expectJson<Calculation>(
      await calculate(owner, model.id, { from: "2026-05-01T05:30:00+05:30", to: "2026-05-20T00:00:00Z", customer_id: customer }),
      200,
    );
    expect(result).toMatchObject({ from: "2026-05-01T00:00:00.000Z", to: "2026-05-20T00:00:00.000Z", subtotal: 701 });
  });
});

describe("permissions and organisations", () => {
  it("lets a viewer read and calculate, but not create, edit, archive or set plans", async () => {
    const owner = await signUp("bm-viewer");
    const viewer = { ...(await joinOrgAs(owner, "viewer", "bm-viewer-v")), orgId: owner.orgId };
    const model = await createModel(owner, SIMPLE);
    const customerId = await createCustomer(owner, "Acme");
    const as = { token: viewer.access_token, orgId: owner.orgId };
    await expectJson(await call(`/v1/billing-models/${model.id}`, as), 200);
    await expectJson(await call(`/v1/billing-models/${model.id}/calculate`, { ...as, body: MAY }), 200);
    await expectProblem(await call("/v1/billing-models", { ...as, body: { ...SIMPLE, name: "Viewer's" } }), 403);
    await expectProblem(await call(`/v1/billing-models/${model.id}`, { ...as, method: "PATCH", body: { base_fee: 1 } }), 403);
    await expectProblem(await call(`/v1/billing-models/${model.id}`, { ...as, method: "DELETE" }), 403);
    await expectProblem(await call(`/v1/customers/${customerId}/billing-plan`, { ...as, method: "PUT", body: { model_id: model.id } }), 403);
  });

  it("hides one organisation's models, versions, calculations and plans from another", async () => {
    const a = await signUp("bm-iso-a");
    const b = await signUp("bm-iso-b");
    const model = await createModel(a, SIMPLE);
    const customerA = await createCustomer(a, "A's customer");
    await expectJson(await call(`/v1/customers/${customerA}/billing-plan`, { method: "PUT", token: a.access_token, body: { model_id: model.id } }), 200);
    const bModel = await createModel(b, SIMPLE);
    const customerB = await createCustomer(b, "B's customer");

    await expectProblem(await call(`/v1/billing-models/${model.id}`, { token: b.access_token }), 404);
    await expectProblem(await call(`/v1/billing-models/${model.id}/versions/1`, { token: b.access_token }), 404);
    await expectProblem(await patchModel(b, model.id, { base_fee: 1 }), 404);
    await expectProblem(await call(`/v1/billing-models/${model.id}`, { method: "DELETE", token: b.access_token }), 404);
    await expectProblem(await calculate(b, model.id, MAY), 404);
    await expectProblem(await call(`/v1/customers/${customerA}/billing-plan`, { token: b.access_token }), 404);
    await expectProblem(await call(`/v1/customers/${customerA}/billing-plan`, { method: "PUT", token: b.access_token, body: { model_id: bModel.id } }), 404);
    await expectProblem(await call(`/v1/customers/${customerA}/billing-plan`, { method: "DELETE", token: b.access_token }), 404);
    const foreignModel = await expectProblem(
      await call(`/v1/customers/${customerB}/billing-plan`, { method: "PUT", token: b.access_token, body: { model_id: model.id } }),
      422,
    );
    expect(foreignModel.errors?.map((e) => e.path)).toEqual(["model_id"]);
    expect((await expectJson<Page<BillingModel>>(await call("/v1/billing-models", { token: b.access_token }), 200)).data.map((m) => m.id)).toEqual([bModel.id]);

    const [row] = await testCtx().db.select().from(billingModels).where(eq(billingModels.id, model.id));
    expect(row).toMatchObject({ currentVersion: 1, archivedAt: null });
    const plans = await testCtx().db.select().from(customerBillingPlans).where(eq(customerBillingPlans.customerId, customerA));
    expect(plans.map((p) => p.modelId)).toEqual([model.id]);
  });
});
