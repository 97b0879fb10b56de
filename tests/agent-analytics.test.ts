/**
 * Figures of the agent analytics endpoints against hand-computed answers. Events go in through
 * the batch API; invoices are written straight into the table, because the invoices module is
 * built alongside this one and revenue only needs the rows (status, total, currency, issued_at).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { billingModels, billingModelVersions, invoices } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

const PERIOD = "from=2026-06-01&to=2026-06-04";

interface Fixture {
  owner: SignedUp;
  other: SignedUp;
  alpha: string;
  beta: string;
  gamma: string;
}

function get(who: SignedUp, path: string): Promise<Response> {
  return call(path, { token: who.access_token, orgId: who.orgId });
}

async function getJson<T>(who: SignedUp, path: string): Promise<T> {
  return expectJson<T>(await get(who, path), 200);
}

async function createAgent(who: SignedUp, body: Record<string, unknown>): Promise<string> {
  return (await expectJson<{ id: string }>(await call("/v1/agents", { token: who.access_token, body }), 201)).id;
}

async function addInvoice(
  orgId: string,
  customerId: string,
  invoice: { status: "draft" | "open" | "paid" | "void"; total: number; currency: string; issuedAt: string | null },
) {
  const db = testCtx().db;
  const modelId = newId("bmd");
  await db.insert(billingModels).values({ id: modelId, orgId, name: `Model ${modelId}`, currentVersion: 1 });
  await db.insert(billingModelVersions).values({ modelId, version: 1, currency: invoice.currency, components: [] });
  await db.insert(invoices).values({
    id: newId("ivc"),
    orgId,
    customerId,
    modelId,
    modelVersion: 1,
    status: invoice.status,
    // A period long before the events, so these invoices close nothing the tests record.
    periodStart: "2025-01-01",
    periodEnd: "2025-02-01",
    currency: invoice.currency,
    subtotal: invoice.total,
    taxRateBps: 0,
    tax: 0,
    total: invoice.total,
    issuedAt: invoice.issuedAt ? new Date(invoice.issuedAt) : null,
  });
}

let fixture: Fixture;

beforeAll(async () => {
  const owner = await signUp("ana-owner");
  const other = await signUp("ana-other");
  const customer = await expectJson<{ id: string }>(await call("/v1/customers", { token: owner.access_token, body: { name: "Billed Co" } }), 201);
  const alpha = await createAgent(owner, { name: "Alpha", customer_id: customer.id });
  const beta = await createAgent(owner, { name: "Beta" });
  const gamma = await createAgent(owner, { name: "Gamma" });
  const otherAgent = await createAgent(other, { name: "Elsewhere" });

  const activity = (id: string, agent: string, type: string, quantity: string, at: string) => ({
    id,
    agent_id: agent,
    kind: "activity",
    type,
    quantity,
    occurred_at: at,
  });
  const cost = (id: string, agent: string, amount: number, currency: string, at: string) => ({
    id,
    agent_id: agent,
    kind: "cost",
    type: "llm",
    amount,
    currency,
    occurred_at: at,
  });
  const outcome = (id: string, agent: string, success: boolean, at: string, extra: Record<string, unknown> = {}) => ({
    id,
    agent_id: agent,
    kind: "outcome",
    type: "resolved",
    success,
    occurred_at: at,
    ...extra,
  });
  const events = [
    activity("act1", alpha, "email_sent", "2.5", "2026-06-01T10:00:00Z"),
    activity("act2", alpha, "email_sent", "1", "2026-06-02T10:00:00Z"),
    activity("act3", alpha, "web_search", "3", "2026-06-02T11:00:00Z"),
    cost("cost1", alpha, 120, "USD", "2026-06-01T09:00:00Z"),
    cost("cost2", alpha, 30, "EUR", "2026-06-02T09:00:00Z"),
    outcome("out1", alpha, true, "2026-06-03T12:00:00Z", { value: 5000 }),
    outcome("out2", alpha, false, "2026-06-03T12:00:00Z", { value: 7000, currency: "USD" }),
    activity("act4", beta, "web_search", "10", "2026-06-03T23:59:59.999Z"),
    cost("cost3", beta, 80, "USD", "2026-06-03T08:00:00Z"),
    outcome("out3", beta, true, "2026-06-01T08:00:00Z", { value: 2000, currency: "USD" }),
    outcome("out4", beta, true, "2026-06-02T08:00:00Z", { value: 9999, currency: "EUR" }),
    outcome("out5", beta, true, "2026-06-02T08:00:00Z"),
    // Outside [from, to): the last millisecond before and the first instant after.
    activity("before", alpha, "email_sent", "100", "2026-05-31T23:59:59.999Z"),
    activity("after", beta, "web_search", "100", "2026-06-04T00:00:00Z"),
  ];
  const stored = await expectJson<{ accepted: number }>(await call("/v1/events", { token: owner.access_token, body: { events } }), 200);
  expect(stored.accepted).toBe(events.length);
  const elsewhere = [activity("x1", otherAgent, "email_sent", "50", "2026-06-02T10:00:00Z"), cost("x2", otherAgent, 999, "USD", "2026-06-02T10:00:00Z")];
  await expectJson(await call("/v1/events", { token: other.access_token, body: { events: elsewhere } }), 200);

  await addInvoice(owner.orgId, customer.id, { status: "open", total: 10_000, currency: "USD", issuedAt: "2026-06-02T00:00:00Z" });
  await addInvoice(owner.orgId, customer.id, { status: "paid", total: 5_000, currency: "USD", issuedAt: "2026-06-03T15:00:00Z" });
  await addInvoice(owner.orgId, customer.id, { status: "paid", total: 700, currency: "EUR", issuedAt: "2026-06-01T00:00:00Z" });
  await addInvoice(owner.orgId, customer.id, { status: "draft", total: 99_999, currency: "USD", issuedAt: null });
  await addInvoice(owner.orgId, customer.id, { status: "void", total: 88_888, currency: "USD", issuedAt: "2026-06-02T00:00:00Z" });
  await addInvoice(owner.orgId, customer.id, { status: "open", total: 3_333, currency: "USD", issuedAt: "2026-05-31T23:59:59Z" });

  fixture = { owner, other, alpha, beta, gamma };
});

describe("analytics summary", () => {
  it("adds up open and paid invoices issued in the period, costs, events and outcomes", async () => {
    const summary = await getJson(fixture.owner, `/v1/analytics/summary?${PERIOD}`);
    expect(summary).toEqual({
      from: "2026-06-01T00:00:00.000Z",
      to: "2026-06-04T00:00:00.000Z",
      currency: "USD",
      // 10,000 open + 5,000 paid; the draft, the void one and the one issued the day before do not count.
      revenue: 15_000,
      cost: 200,
      margin: 14_800,
      revenue_by_currency: [
        { currency: "EUR", amount: 700 },
        { currency: "USD", amount: 15_000 },
      ],
      cost_by_currency: [
        { currency: "EUR", amount: 30 },
        { currency: "USD", amount: 200 },
      ],
      events: 12,
      activities: 4,
      costs: 3,
      outcomes: 5,
      successful_outcomes: 4,
      success_rate: 0.8,
    });
  });

  it("shows another organisation none of it", async () => {
    const summary = await getJson<Record<string, unknown>>(fixture.other, `/v1/analytics/summary?${PERIOD}`);
    expect(summary).toMatchObject({ revenue: 0, cost: 999, margin: -999, revenue_by_currency: [], events: 2, outcomes: 0, success_rate: null });
  });

  it("refuses a period that ends before it starts, and needs analytics:read", async () => {
    await expectProblem(await get(fixture.owner, "/v1/analytics/summary?from=2026-06-04&to=2026-06-01"), 422);
    const key = await expectJson<{ key: string }>(
      await call("/v1/api-keys", { token: fixture.owner.access_token, body: { name: "events only", permissions: ["events:write"] } }),
      201,
    );
    await expectProblem(await call(`/v1/analytics/summary?${PERIOD}`, { token: key.key }), 403);
  });
});

describe("top agents", () => {
  const alphaRow = () => ({
    agent_id: fixture.alpha,
    name: "Alpha",
    status: "active",
    // out1 (5,000, no currency: the organisation's); out2 failed.
    revenue: 5000,
    activities: 3,
    activity_units: "6.500",
    outcomes: 2,
    successful_outcomes: 1,
    success_rate: 0.5,
  });
  const betaRow = () => ({
    agent_id: fixture.beta,
    name: "Beta",
    status: "active",
    // out3 (2,000 USD); out4 is in EUR and out5 has no value.
    revenue: 2000,
    activities: 1,
    activity_units: "10.000",
    outcomes: 3,
    successful_outcomes: 3,
    success_rate: 1,
  });

  it("ranks by revenue from successful outcomes, leaving out agents without events", async () => {
    const top = await getJson(fixture.owner, `/v1/analytics/top-agents?metric=revenue&${PERIOD}`);
    expect(top).toEqual({
      from: "2026-06-01T00:00:00.000Z",
      to: "2026-06-04T00:00:00.000Z",
      metric: "revenue",
      currency: "USD",
      data: [alphaRow(), betaRow()],
    });
  });

  it("ranks by activities and by successful outcomes, and honours limit", async () => {
    const byActivities = await getJson<{ data: { agent_id: string }[] }>(fixture.owner, `/v1/analytics/top-agents?metric=activities&${PERIOD}`);
    expect(byActivities.data.map((r) => r.agent_id)).toEqual([fixture.alpha, fixture.beta]);
    const byOutcomes = await getJson<{ data: unknown[] }>(fixture.owner, `/v1/analytics/top-agents?metric=outcomes&limit=1&${PERIOD}`);
    expect(byOutcomes.data).toEqual([betaRow()]);
    await expectProblem(await get(fixture.owner, `/v1/analytics/top-agents?metric=profit&${PERIOD}`), 422);
  });
});

describe("activity breakdown", () => {
  it("groups activity units by type, most units first", async () => {
    const breakdown = await getJson(fixture.owner, `/v1/analytics/activity-breakdown?group_by=type&${PERIOD}`);
    expect(breakdown).toEqual({
      from: "2026-06-01T00:00:00.000Z",
      to: "2026-06-04T00:00:00.000Z",
      group_by: "type",
      data: [
        { key: "web_search", label: "web_search", events: 2, units: "13.000" },
        { key: "email_sent", label: "email_sent", events: 2, units: "3.500" },
      ],
    });
  });

  it("groups by agent with its name, and by UTC day with every day of the period", async () => {
    const byAgent = await getJson<{ data: unknown[] }>(fixture.owner, `/v1/analytics/activity-breakdown?group_by=agent&${PERIOD}`);
    expect(byAgent.data).toEqual([
      { key: fixture.beta, label: "Beta", events: 1, units: "10.000" },
      { key: fixture.alpha, label: "Alpha", events: 3, units: "6.500" },
    ]);
    const byDay = await getJson<{ data: unknown[] }>(fixture.owner, "/v1/analytics/activity-breakdown?group_by=day&from=2026-05-31&to=2026-06-05");
    expect(byDay.data).toEqual([
      { key: "2026-05-31", label: "2026-05-31", events: 1, units: "100.000" },
      { key: "2026-06-01", label: "2026-06-01", events: 1, units: "2.500" },
      { key: "2026-06-02", label: "2026-06-02", events: 2, units: "4.000" },
      { key: "2026-06-03", label: "2026-06-03", events: 1, units: "10.000" },
      { key: "2026-06-04", label: "2026-06-04", events: 1, units: "100.000" },
    ]);
  });
});

describe("agent stats", () => {
  it("counts one agent's events, units per type, costs per currency, success rate and first and last event", async () => {
    const stats = await getJson(fixture.owner, `/v1/agents/${fixture.alpha}/stats?${PERIOD}`);
    expect(stats).toEqual({
      agent_id: fixture.alpha,
      from: "2026-06-01T00:00:00.000Z",
      to: "2026-06-04T00:00:00.000Z",
      activities: 3,
      costs: 2,
      outcomes: 2,
      successful_outcomes: 1,
      success_rate: 0.5,
      activity_units: [
        { type: "email_sent", units: "3.500", events: 2 },
        { type: "web_search", units: "3.000", events: 1 },
      ],
      cost_totals: [
        { currency: "EUR", amount: 30, events: 1 },
        { currency: "USD", amount: 120, events: 1 },
      ],
      first_event_at: "2026-06-01T09:00:00.000Z",
      last_event_at: "2026-06-03T12:00:00.000Z",
    });
  });

  it("answers zeros for an agent without events in the period, and 404 for another organisation", async () => {
    const stats = await getJson(fixture.owner, `/v1/agents/${fixture.gamma}/stats?${PERIOD}`);
    expect(stats).toMatchObject({
      activities: 0,
      costs: 0,
      outcomes: 0,
      successful_outcomes: 0,
      success_rate: null,
      activity_units: [],
      cost_totals: [],
      first_event_at: null,
      last_event_at: null,
    });
    await expectProblem(await get(fixture.other, `/v1/agents/${fixture.alpha}/stats?${PERIOD}`), 404);
  });
});
