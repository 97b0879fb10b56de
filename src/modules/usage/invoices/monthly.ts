/**
 * The monthly invoicing run: one invoice per customer with a billing plan, for one calendar
 * month, from the model on the plan. Safe to run twice or concurrently (the cron and a person
 * pressing the button): `insertDraft` lets one invoice per customer, model and period through,
 * and every other attempt is skipped as "already invoiced".
 */
import { and, eq, ne } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { invoices } from "../../../db/schema";
import type { Actor, ServiceCtx } from "../../../lib/context";
import { AppError, Unprocessable } from "../../../lib/errors";
import { assertCan, requireOrgId, systemActor } from "../../identity/auth/principal";
import { type InvoicePeriod, monthPeriod, periodBounds, previousMonth } from "./period";
import { listBillingPlans, orgsWithBillingPlans, priceUsage } from "./pricing";
import type { MonthlyRunInput, MonthlyRunView } from "./schemas";
import { finalizeInTransaction, insertDraft } from "./service";

export const ALREADY_INVOICED = "already invoiced";

/** Invoices every customer of the active organisation that has a billing plan, for `period`. */
export async function generateMonthlyInvoices(ctx: ServiceCtx, input: MonthlyRunInput): Promise<MonthlyRunView> {
  assertCan(ctx, "invoices:write");
  const period = monthPeriod(input.period);
  // Finalized invoices close their period to new events, so a month still running would stop
  // taking usage halfway; invoice it once it is over.
  if (periodBounds(period).to > ctx.now()) {
    throw new Unprocessable([{ path: "period", message: `${input.period} has not ended yet; invoice it from ${period.end}` }]);
  }
  return invoiceMonth(ctx, requireOrgId(ctx), period, input.finalize);
}

async function invoiceMonth(ctx: ServiceCtx, orgId: string, period: InvoicePeriod, finalize: boolean): Promise<MonthlyRunView> {
  const plans = await listBillingPlans(ctx, orgId);
  // A cheap first pass: customers already invoiced are skipped without pricing their usage. The
  // insert below re-checks under a lock, so a run racing this one still cannot bill twice.
  const invoiced = await ctx.db
    .select({ customerId: invoices.customerId, modelId: invoices.modelId })
    .from(invoices)
    .where(and(eq(invoices.orgId, orgId), eq(invoices.periodStart, period.start), ne(invoices.status, "void")));
  const done = new Set(invoiced.map((row) => `${row.customerId}:${row.modelId}`));
  const result: MonthlyRunView = { created: [], skipped: [] };
  for (const plan of plans) {
    if (done.has(`${plan.customerId}:${plan.modelId}`)) {
      result.skipped.push({ customer_id: plan.customerId, reason: ALREADY_INVOICED });
      continue;
    }
    try {
      const charges = await priceUsage(ctx, { modelId: plan.modelId, customerId: plan.customerId, period });
      // One transaction per customer: a customer that fails leaves the others' invoices in place,
      // and the number sequence's lock is held only for one invoice at a time.
      const created = await withTransaction(ctx, async (tx) => {
        const outcome = await insertDraft(ctx, tx, orgId, { customerId: plan.customerId, modelId: plan.modelId, period, charges, source: "monthly_run" });
        if (!("created" in outcome)) return null;
        if (finalize) await finalizeInTransaction(ctx, tx, orgId, outcome.created.id);
        return outcome.created.id;
      });
      if (created) result.created.push(created);
      else result.skipped.push({ customer_id: plan.customerId, reason: ALREADY_INVOICED });
    } catch (error) {
      if (!(error instanceof AppError)) ctx.log.error("monthly invoice failed", { org_id: orgId, customer_id: plan.customerId, error });
      result.skipped.push({
        customer_id: plan.customerId,
        reason: error instanceof AppError ? (error.detail ?? error.title) : "could not be invoiced (an internal error, logged)",
      });
    }
  }
  return result;
}

/** Permissions the scheduled run acts with inside each organisation: invoicing, and reading the models it prices with. */
const SCHEDULER_PERMISSIONS = ["invoices:read", "invoices:write", "billing_models:read"];

/** The cron's identity in one organisation: no user, no key, only what invoicing needs. */
function schedulerActor(orgId: string): Actor {
  return systemActor(orgId, SCHEDULER_PERMISSIONS);
}

/**
 * The cron job on the 1st: last month's invoices (finalized) in every organisation with billing
 * plans. One organisation's failure does not stop the others; it is logged and counted.
 */
export async function runMonthlyInvoicing(ctx: ServiceCtx): Promise<{ organizations: number; created: number; skipped: number; failed: number }> {
  const period = monthPeriod(previousMonth(ctx.now()));
  const totals = { organizations: 0, created: 0, skipped: 0, failed: 0 };
  for (const orgId of await orgsWithBillingPlans(ctx)) {
    totals.organizations++;
    try {
      const run = await invoiceMonth({ ...ctx, actor: schedulerActor(orgId) }, orgId, period, true);
      totals.created += run.created.length;
      totals.skipped += run.skipped.length;
    } catch (error) {
      totals.failed++;
      ctx.log.error("monthly invoicing failed for an organisation", { org_id: orgId, period: period.start, error });
    }
  }
  return totals;
}
