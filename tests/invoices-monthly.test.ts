import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { and, desc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { cronRuns, invoices } from "../src/db/schema";
import worker from "../src/index";
import { runMonthlyInvoicing } from "../src/modules/usage/invoices/monthly";
import { cronJobs } from "../src/scheduled";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx, testEnv } from "./harness/helpers";
import { createCustomer, createModel, getInvoice, type Invoice, insertAgent, insertEvents, invoiceAction, putPlan } from "./harness/usage-invoices";

const MONTHLY_CRON = "0 2 1 * *";

interface RunResult {
  created: string[];
  skipped: { customer_id: string; reason: string }[];
}

function runMonthly(who: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/invoices/generate/monthly", { token: who.access_token, orgId: who.orgId, body });
}

/**
 * An organisation with three customers on billing plans (two models, one with manual seats) and
 * one customer without a plan, with usage in `month`.
 */
async function billingOrg(label: string, month: string) {
  const owner = await signUp(label);
  const perMessage = await createModel(owner, { components: [{ type: "activity", activity_type: "message", unit_amount: 3 }] });
  const perSeat = await createModel(owner, { base_fee: 1000, components: [{ type: "seat", unit_amount: 400, seats: "manual" }] });
  const alpha = await createCustomer(owner, "Alpha");
  const beta = await createCustomer(owner, "Beta");
  const gamma = await createCustomer(owner, "Gamma");
  const planless = await createCustomer(owner, "Planless");
  await putPlan(owner, alpha, perMessage);
  await putPlan(owner, beta, perMessage);
  await putPlan(owner, gamma, perSeat, 7);
  const alphaAgent = await insertAgent(owner.orgId, alpha);
  const planlessAgent = await insertAgent(owner.orgId, planless);
  await insertEvents(owner.orgId, alphaAgent, [
    { kind: "activity", type: "message", quantity: "10", at: `${month}-03T08:00:00Z` },
    { kind: "activity", type: "message", quantity: "5", at: `${month}-20T08:00:00Z` },
  ]);
  await insertEvents(owner.orgId, planlessAgent, [{ kind: "activity", type: "message", quantity: "100", at: `${month}-05T08:00:00Z` }]);
  return { owner, customers: { alpha, beta, gamma, planless }, models: { perMessage, perSeat } };
}

const invoicesOf = (orgId: string, periodStart: string) =>
  testCtx()
    .db.select()
    .from(invoices)
    .where(and(eq(invoices.orgId, orgId), eq(invoices.periodStart, periodStart)));

// First in the file: the cron visits every organisation of this file's database, so it runs before
// the other tests add theirs.
describe("the monthly cron", () => {
  it("runs from the trigger on the 1st at 02:00 UTC for the month before, and the run is recorded", async () => {
    expect(cronJobs[MONTHLY_CRON]?.map((job) => job.name)).toEqual(["invoices.monthly"]);
    const today = new Date();
    const lastMonth = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
    const { owner } = await billingOrg("cron-trigger", lastMonth);

    const exec = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: MONTHLY_CRON, scheduledTime: today }), testEnv, exec);
    await waitOnExecutionContext(exec);

    const rows = await invoicesOf(owner.orgId, `${lastMonth}-01`);
    expect(rows.map((row) => row.status)).toEqual(["open", "open", "open"]);
    const [run] = await testCtx().db.select().from(cronRuns).where(eq(cronRuns.cron, MONTHLY_CRON)).orderBy(desc(cronRuns.startedAt)).limit(1);
    expect(run).toMatchObject({
      status: "ok",
      jobs: [{ job: "invoices.monthly", ok: true, detail: expect.stringMatching(/^\d+ created, \d+ skipped in \d+ organisations, 0 failed$/) }],
    });
  });

  it("invoices last month in every organisation with billing plans, and is safe alongside a manual run", async () => {
    const one = await billingOrg("cron-one", "2026-08");
    const two = await billingOrg("cron-two", "2026-08");
    const ctx = { ...testCtx(), now: () => new Date("2026-09-01T02:00:00Z") };
    const [cron, manual] = await Promise.all([runMonthlyInvoicing(ctx), runMonthly(one.owner, { period: "2026-08" })]);
    const manualRun = await expectJson<RunResult>(manual, 200);
    expect(cron.failed).toBe(0);
    // Every organisation of this file's database with plans is visited; these two got all six invoices between the runs.
    expect(cron.organizations).toBeGreaterThanOrEqual(2);
    for (const { owner } of [one, two]) {
      const rows = await invoicesOf(owner.orgId, "2026-08-01");
      expect(rows).toHaveLength(3);
      expect(rows.every((row) => row.status === "open" && row.periodEnd === "2026-09-01")).toBe(true);
    }
    expect(manualRun.created.length + manualRun.skipped.length).toBe(3);

    const again = await runMonthlyInvoicing(ctx);
    expect(again.created).toBe(0);
    expect(again.skipped).toBeGreaterThanOrEqual(6);
  });
});

describe("the monthly invoicing run", () => {
  it("invoices each customer with a billing plan once, finalized, and skips them when run again", async () => {
    const { owner, customers } = await billingOrg("monthly-once", "2026-05");
    const first = await expectJson<RunResult>(await runMonthly(owner, { period: "2026-05" }), 200);
    expect(first.skipped).toEqual([]);
    expect(first.created).toHaveLength(3);

    const created = await Promise.all(first.created.map((id) => getInvoice(owner, id)));
    const byCustomer = new Map(created.map((invoice) => [invoice.customer_id, invoice]));
    expect([...byCustomer.keys()].sort()).toEqual([customers.alpha, customers.beta, customers.gamma].sort());
    expect(created.every((invoice) => invoice.status === "open" && invoice.period_start === "2026-05-01" && invoice.period_end === "2026-06-01")).toBe(true);
    expect(created.map((invoice) => invoice.number).sort()).toEqual(["INV-000001", "INV-000002", "INV-000003"]);
    // 15 messages × 3; Beta recorded nothing; Gamma: 1000 base + 7 manual seats × 400.
    expect(byCustomer.get(customers.alpha)?.total).toBe(45);
    expect(byCustomer.get(customers.beta)?.total).toBe(0);
    expect(byCustomer.get(customers.gamma)?.total).toBe(3800);

    const second = await expectJson<RunResult>(await runMonthly(owner, { period: "2026-05" }), 200);
    expect(second.created).toEqual([]);
    expect(second.skipped.map((s) => s.customer_id).sort()).toEqual([customers.alpha, customers.beta, customers.gamma].sort());
    expect(second.skipped.every((s) => s.reason === "already invoiced")).toBe(true);
    expect(await invoicesOf(owner.orgId, "2026-05-01")).toHaveLength(3);
  });

  it("creates each invoice exactly once when five runs race, with gap-free numbers", async () => {
    const { owner, customers } = await billingOrg("monthly-race", "2026-04");
    const replies = await Promise.all(Array.from({ length: 5 }, () => runMonthly(owner, { period: "2026-04" })));
    const runs = await Promise.all(replies.map((reply) => expectJson<RunResult>(reply, 200)));
    const created = runs.flatMap((run) => run.created);
    expect(created).toHaveLength(3);
    for (const run of runs) {
      expect(run.created.length + run.skipped.length).toBe(3);
      expect(run.skipped.every((s) => s.reason === "already invoiced")).toBe(true);
    }
    const rows = await invoicesOf(owner.orgId, "2026-04-01");
    expect(rows.map((row) => row.customerId).sort()).toEqual([customers.alpha, customers.beta, customers.gamma].sort());
    expect(rows.map((row) => row.id).sort()).toEqual([...created].sort());
    expect(rows.map((row) => row.number).sort()).toEqual(["INV-000001", "INV-000002", "INV-000003"]);
  });

  it("leaves drafts with finalize: false, and invoices a customer again once its invoice is void", async () => {
    const { owner, customers } = await billingOrg("monthly-drafts", "2026-03");
    const run = await expectJson<RunResult>(await runMonthly(owner, { period: "2026-03", finalize: false }), 200);
    const drafts = await Promise.all(run.created.map((id) => getInvoice(owner, id)));
    expect(drafts.map((d) => [d.status, d.number])).toEqual([
      ["draft", null],
      ["draft", null],
      ["draft", null],
    ]);
    const alphaDraft = drafts.find((d) => d.customer_id === customers.alpha) as Invoice;
    await expectJson(await invoiceAction(owner, alphaDraft.id, "cancel"), 200);

    const again = await expectJson<RunResult>(await runMonthly(owner, { period: "2026-03" }), 200);
    expect(again.created).toHaveLength(1);
    const replacement = await getInvoice(owner, again.created[0] as string);
    expect(replacement).toMatchObject({ customer_id: customers.alpha, status: "open", number: "INV-000001", total: 45 });
    expect(again.skipped.map((s) => s.customer_id).sort()).toEqual([customers.beta, customers.gamma].sort());
  });

  it("skips a customer that a manual invoice already covers", async () => {
    const { owner, customers, models } = await billingOrg("monthly-manual", "2026-02");
    await expectJson(
      await call("/v1/invoices", { token: owner.access_token, body: { customer_id: customers.beta, model_id: models.perMessage, period: "2026-02" } }),
      201,
    );
    const run = await expectJson<RunResult>(await runMonthly(owner, { period: "2026-02" }), 200);
    expect(run.created).toHaveLength(2);
    expect(run.skipped).toEqual([{ customer_id: customers.beta, reason: "already invoiced" }]);
  });

  it("invoices only the caller's organisation, and wants a month that is over", async () => {
    const a = await billingOrg("monthly-tenant-a", "2026-01");
    const b = await billingOrg("monthly-tenant-b", "2026-01");
    const run = await expectJson<RunResult>(await runMonthly(b.owner, { period: "2026-01" }), 200);
    expect(run.created).toHaveLength(3);
    expect(await invoicesOf(a.owner.orgId, "2026-01-01")).toEqual([]);
    await expectProblem(await runMonthly(a.owner, { period: "2026-1" }), 422);
    await expectProblem(await runMonthly(a.owner, {}), 422);
    // A month still running would be closed to new events halfway through.
    const thisMonth = new Date().toISOString().slice(0, 7);
    const early = await expectProblem(await runMonthly(a.owner, { period: thisMonth }), 422);
    expect(early.errors?.[0]?.message).toContain("has not ended yet");
  });
});
