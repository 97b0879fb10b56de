/**
 * The daily roll-ups (retail_daily_totals, agent_event_daily_totals) against the raw rows: after
 * concurrent writes through the API and late, back-dated rows, the dashboard summary and
 * `calculate` answer what summing the raw rows answers, for periods on whole days and periods
 * with partial days at either end; and a rebuild from the raw rows writes what the triggers kept.
 */
import { type SQL, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { SummaryView } from "../src/modules/retail/dashboard/schemas";
import { rebuildDailyRollups } from "../src/modules/usage/rollups/rebuild";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { testCtx } from "./harness/helpers";
import { rawEventTotalsSql, rawSummarySql } from "./harness/raw-aggregates";

async function rows<T>(query: SQL): Promise<T[]> {
  return ((await testCtx().db.execute(query)) as unknown as { rows: T[] }).rows;
}

async function post<T>(who: SignedUp, path: string, body: unknown, status = 201): Promise<T> {
  return expectJson<T>(await call(path, { token: who.access_token, body }), status);
}

/** Every response of a burst of concurrent requests; a lost race may be a 409, never a 5xx (a deadlock would be). */
async function settle(requests: Promise<Response>[]): Promise<Response[]> {
  const responses = await Promise.all(requests);
  const failures = await Promise.all(responses.filter((r) => r.status >= 500).map(async (r) => `${r.status} ${await r.text()}`));
  expect(failures).toEqual([]);
  return responses;
}

/** The non-zero rows of a roll-up for one organisation, in key order, as text. */
async function rollupRows(table: "retail_daily_totals" | "agent_event_daily_totals", orgId: string): Promise<unknown[]> {
  if (table === "retail_daily_totals") {
    return rows(sql`
      SELECT day::text, revenue::text, bill_count::text, outstanding::text, bill_payments::text, unallocated::text, refunds::text, new_customers::text
        FROM retail_daily_totals
       WHERE org_id = ${orgId}
         AND (revenue, bill_count, outstanding, bill_payments, unallocated, refunds, new_customers) <> (0, 0, 0, 0, 0, 0, 0)
       ORDER BY day`);
  }
  return rows(sql`
    SELECT agent_id, day::text, kind, type, currency, events::text, quantity::text, successes::text, value::text, amount::text
      FROM agent_event_daily_totals
     WHERE org_id = ${orgId} AND events <> 0
     ORDER BY agent_id, day, kind, type, currency`);
}

async function expectRebuildToChangeNothing(orgId: string): Promise<void> {
  const retail = await rollupRows("retail_daily_totals", orgId);
  const events = await rollupRows("agent_event_daily_totals", orgId);
  await rebuildDailyRollups(testCtx().db, orgId);
  expect(await rollupRows("retail_daily_totals", orgId)).toEqual(retail);
  expect(await rollupRows("agent_event_daily_totals", orgId)).toEqual(events);
}

type Summary = Pick<SummaryView, "revenue" | "collected" | "outstanding" | "bill_count" | "average_bill" | "new_customers">;

async function rawSummary(orgId: string, from: string, to: string): Promise<Summary> {
  const [row] = await rows<Record<keyof Summary, string>>(rawSummarySql(orgId, from, to));
  if (!row) throw new Error("no raw summary row");
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, Number(value)])) as unknown as Summary;
}

interface Issued {
  id: string;
  total: number;
}

describe("retail roll-ups", () => {
  it("give the dashboard summary the raw rows' figures after concurrent bills, payments, refunds and back-dated rows", async () => {
    const owner = await signUp("rollups-retail");
    const product = await post<{ id: string }>(owner, "/v1/products", { name: "Tea", unit: "piece", price: 1250, tax_rate_bps: 500, stock_quantity: "1000" });
    const customers = await Promise.all(["Asha", "Bala", "Chen"].map((name) => post<{ id: string }>(owner, "/v1/customers", { name })));
    const issue = (n: number) =>
      call("/v1/bills", {
        token: owner.access_token,
        body: { issue: true, customer_id: n % 4 === 3 ? undefined : customers[n % 3]?.id, items: [{ product_id: product.id, quantity: 1 + (n % 5) }] },
      });
    // Twelve tills issuing at once: every one adds to today's roll-up row.
    const issued = await Promise.all((await settle(Array.from({ length: 12 }, (_, n) => issue(n)))).map((r) => r.json() as Promise<Issued>));
    // Then payments, part payments, a void, payments on account and a new customer, all at once;
    // two payments race for bill 0's balance.
    const payment = (bill: { id: string }, amount: number, method = "cash") =>
      call(`/v1/bills/${bill.id}/payments`, { token: owner.access_token, body: { amount, method } });
    const [b0, b1, b2, b3, b4, b5, b6] = issued.slice(0, 7) as [Issued, Issued, Issued, Issued, Issued, Issued, Issued];
    await settle([
      payment(b0, b0.total),
      payment(b0, b0.total, "card"),
      payment(b1, 500),
      payment(b2, b2.total, "upi"),
      payment(b3, b3.total),
      call(`/v1/bills/${b4.id}/void`, { token: owner.access_token, body: {} }),
      call(`/v1/customers/${customers[1]?.id}/payments`, { token: owner.access_token, body: { amount: 9000, method: "bank" } }),
      call(`/v1/customers/${customers[2]?.id}/payments`, { token: owner.access_token, body: { amount: 700, method: "cash" } }),
      call("/v1/customers", { token: owner.access_token, body: { name: "Dara" } }),
    ]);
    await settle([
      call(`/v1/bills/${b2.id}/refunds`, { token: owner.access_token, body: { amount: 300, method: "cash" } }),
      call(`/v1/bills/${b3.id}/refunds`, { token: owner.access_token, body: { amount: b3.total, method: "cash" } }),
      payment(b5, 100),
    ]);
    // Late and moved rows: bills issued, money received and customers added on other days, some
    // a millisecond either side of midnight, moved by UPDATEs the roll-ups follow.
    const db = testCtx().db;
    const stamp = (table: string, column: string, id: string, at: string) =>
      db.execute(sql`UPDATE ${sql.identifier(table)} SET ${sql.identifier(column)} = ${at}::timestamptz WHERE id = ${id}`);
    await stamp("bills", "issued_at", b0.id, "2025-01-15T10:00:00Z");
    await stamp("bills", "issued_at", b1.id, "2025-01-31T23:59:59.999Z");
    await stamp("bills", "issued_at", b2.id, "2025-02-01T00:00:00Z");
    await stamp("bills", "issued_at", b6.id, "2025-01-01T00:00:00Z");
    await db.execute(sql`UPDATE bill_payments SET created_at = '2025-01-20T08:00:00Z' WHERE bill_id = ${b0.id}`);
    await db.execute(sql`UPDATE bill_refunds SET created_at = '2025-01-31T12:00:00Z' WHERE bill_id = ${b2.id}`);
    await db.execute(sql`UPDATE customer_payments SET created_at = '2025-01-15T09:59:59Z' WHERE customer_id = ${customers[1]?.id}`);
    await stamp("customers", "created_at", customers[0]?.id as string, "2025-01-15T10:00:00Z");

    const periods = [
      ["2025-01-01T00:00:00.000Z", "2025-02-01T00:00:00.000Z"],
      ["2025-01-15T10:00:00.000Z", "2025-01-31T23:59:59.999Z"],
      ["2025-01-15T09:00:00.000Z", "2025-02-01T00:00:00.001Z"],
      ["2025-01-15T00:00:00.000Z", "2025-01-15T23:00:00.000Z"],
      ["2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z"],
      ["2024-12-31T12:00:00.000Z", "2025-01-01T00:00:00.001Z"],
    ];
    const now = new Date();
    periods.push([new Date(now.getTime() - 3 * 86_400_000).toISOString(), new Date(now.getTime() + 60_000).toISOString()]);
    for (const [from, to] of periods as [string, string][]) {
      const summary = await expectJson<Summary>(
        await call(`/v1/dashboard/summary?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, { token: owner.access_token }),
        200,
      );
      expect({ from, to, ...summary }).toMatchObject({ from, to, ...(await rawSummary(owner.orgId, from, to)) });
    }
    await expectRebuildToChangeNothing(owner.orgId);
  });
});

interface Calculation {
  lines: { component: string; description: string; quantity: string; amount: number }[];
}

interface UsageFigures {
  units: string;
  successes: number;
  value: number;
  costs: number;
}

/** What the test model charges for, summed straight from agent_events. */
async function rawUsage(orgId: string, from: string, to: string, agentId?: string): Promise<UsageFigures> {
  const totals = await rows<{ kind: string; type: string; thousandths: string; successes: string; outcome_value: string; cost: string }>(
    rawEventTotalsSql(orgId, from, to, "USD", agentId),
  );
  const of = (kind: string, type: string) => totals.find((t) => t.kind === kind && t.type === type);
  const thousandths = BigInt(of("activity", "message")?.thousandths ?? 0);
  return {
    units: `${thousandths / 1000n}.${String(thousandths % 1000n).padStart(3, "0")}`,
    successes: Number(of("outcome", "sale")?.successes ?? 0),
    value: Number(of("outcome", "sale")?.outcome_value ?? 0),
    costs: Number(of("cost", "llm")?.cost ?? 0),
  };
}

/** The same figures read off a calculation's lines (unit prices of 1 and 100%, no markup). */
function usageOf(calculation: Calculation): UsageFigures {
  const line = (component: string, has: string) => calculation.lines.find((l) => l.component === component && l.description.includes(has));
  return {
    units: line("activity", "message")?.quantity ?? "missing",
    successes: line("outcome", "successful outcomes")?.amount ?? -1,
    value: line("outcome", "outcome value")?.amount ?? -1,
    costs: line("cost_plus", "llm")?.amount ?? -1,
  };
}

/** Event `n` of a deterministic mix: messages with fractional units, llm and phone costs, sales won and lost, three currencies. */
function event(n: number, agentId: string, at: string, prefix: string): Record<string, unknown> {
  const base = { id: `${prefix}-${n}`, agent_id: agentId, occurred_at: at };
  const currency = ["USD", "EUR", "usd"][n % 3];
  switch (n % 4) {
    case 0:
    case 1:
      return { ...base, kind: "activity", type: n % 8 === 0 ? "call" : "message", quantity: `${1 + (n % 7)}.${String(n % 1000).padStart(3, "0")}` };
    case 2:
      return { ...base, kind: "cost", type: n % 3 === 0 ? "phone" : "llm", amount: n % 997, currency };
    default:
      return { ...base, kind: "outcome", type: "sale", success: n % 5 !== 0, value: (n * 37) % 5000, ...(n % 7 === 0 ? {} : { currency }) };
  }
}

describe("agent event roll-ups", () => {
  it("give calculate the raw events' sums after concurrent batches, replays and late events", async () => {
    const owner = await signUp("rollups-events");
    const agents = await Promise.all(["One", "Two"].map((name) => post<{ id: string }>(owner, "/v1/agents", { name })));
    const model = await post<{ id: string }>(owner, "/v1/billing-models", {
      name: "Pass-through",
      currency: "USD",
      components: [
        { type: "activity", activity_type: "message", unit_amount: 1 },
        { type: "outcome", outcome_type: "sale", unit_amount: 1, percent_bps: 10_000 },
        { type: "cost_plus", cost_type: "llm", markup_bps: 0 },
      ],
    });
    // Six batches at once over the same agents, days and types (so the same roll-up rows), each
    // spread over March 2025; one of them sent twice at once (its events count once).
    const march = Date.UTC(2025, 2, 1);
    const batch = (b: number) =>
      Array.from({ length: 150 }, (_, i) => {
        const n = b * 150 + i;
        return event(n, agents[n % 2]?.id as string, new Date(march + ((n * 7_919_000) % (31 * 86_400_000))).toISOString(), "evt");
      });
    const send = (events: Record<string, unknown>[]) => call("/v1/events", { token: owner.access_token, body: { events } });
    const batches = Array.from({ length: 6 }, (_, b) => batch(b));
    await settle([...batches.map(send), send(batches[0] as Record<string, unknown>[])]);
    // Late events, back-dated onto days already summed and onto both sides of the month's edges.
    const late = ["2025-03-01T00:00:00.000Z", "2025-02-28T23:59:59.999Z", "2025-03-31T23:59:59.999Z", "2025-04-01T00:00:00.000Z", "2025-03-15T12:00:00Z"];
    await settle([send(Array.from({ length: 60 }, (_, i) => event(i, agents[i % 2]?.id as string, late[i % late.length] as string, "late")))]);

    const periods = [
      ["2025-03-01T00:00:00.000Z", "2025-04-01T00:00:00.000Z"],
      ["2025-02-28T23:59:59.999Z", "2025-04-01T00:00:00.001Z"],
      ["2025-03-01T00:00:00.001Z", "2025-03-31T23:59:59.999Z"],
      ["2025-03-15T06:00:00.000Z", "2025-03-15T18:00:00.000Z"],
      ["2025-03-10T00:00:00.000Z", "2025-03-17T12:00:00.000Z"],
    ];
    for (const [from, to] of periods as [string, string][]) {
      for (const agentId of [undefined, agents[1]?.id]) {
        const calculation = await post<Calculation>(owner, `/v1/billing-models/${model.id}/calculate`, { from, to, agent_id: agentId }, 200);
        expect({ from, to, agentId, ...usageOf(calculation) }).toEqual({ from, to, agentId, ...(await rawUsage(owner.orgId, from, to, agentId)) });
      }
    }
    // The roll-up itself is the raw events summed per agent, day, kind, type and currency.
    const raw = await rows(sql`
      SELECT agent_id, (occurred_at AT TIME ZONE 'UTC')::date::text AS day, kind, type, coalesce(upper(currency), '') AS currency, count(*)::text AS events,
             coalesce(sum(quantity) FILTER (WHERE kind = 'activity'), 0)::numeric(38, 3)::text AS quantity,
             count(*) FILTER (WHERE kind = 'outcome' AND success)::text AS successes,
             coalesce(sum(value) FILTER (WHERE kind = 'outcome' AND success), 0)::text AS value,
             coalesce(sum(amount) FILTER (WHERE kind = 'cost'), 0)::text AS amount
        FROM agent_events WHERE org_id = ${owner.orgId}
       GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`);
    expect(await rollupRows("agent_event_daily_totals", owner.orgId)).toEqual(raw);
    await expectRebuildToChangeNothing(owner.orgId);
  });
});
