/**
 * What invoicing needs from the billing-models module: which model each customer is billed with,
 * and the priced usage. The plan reads below touch customer_billing_plans directly because that
 * module exposes plans only per customer and behind billing_models:read; invoicing (and the cron,
 * which has no user) needs them by organisation, under invoices:write.
 */
import { and, asc, eq } from "drizzle-orm";
import { customerBillingPlans } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, Unprocessable } from "../../../lib/errors";
import { calculateCharges } from "../billing-models/usage";
import { type InvoicePeriod, periodBounds } from "./period";

export type UsageCharges = Awaited<ReturnType<typeof calculateCharges>>;

export interface BillingPlan {
  customerId: string;
  modelId: string;
}

/** The model on the customer's billing plan, or null when it has none. */
export async function billingPlanModel(ctx: ServiceCtx, orgId: string, customerId: string): Promise<string | null> {
  const [plan] = await ctx.db
    .select({ modelId: customerBillingPlans.modelId })
    .from(customerBillingPlans)
    .where(and(eq(customerBillingPlans.orgId, orgId), eq(customerBillingPlans.customerId, customerId)));
  return plan?.modelId ?? null;
}

/** Every billing plan of the organisation, by customer id (one order for every run, so racing runs meet in it). */
export async function listBillingPlans(ctx: ServiceCtx, orgId: string): Promise<BillingPlan[]> {
  return ctx.db
    .select({ customerId: customerBillingPlans.customerId, modelId: customerBillingPlans.modelId })
    .from(customerBillingPlans)
    .where(eq(customerBillingPlans.orgId, orgId))
    .orderBy(asc(customerBillingPlans.customerId));
}

/** Organisations with at least one billing plan: the ones the monthly cron visits. */
export async function orgsWithBillingPlans(ctx: ServiceCtx): Promise<string[]> {
  const rows = await ctx.db.selectDistinct({ orgId: customerBillingPlans.orgId }).from(customerBillingPlans).orderBy(asc(customerBillingPlans.orgId));
  return rows.map((row) => row.orgId);
}

/**
 * The customer's usage over the period priced with the model's CURRENT version; the answer names
 * the version, which the invoice keeps. A model the organisation does not have is a 422 on `model_id`.
 */
export async function priceUsage(ctx: ServiceCtx, input: { modelId: string; customerId: string; period: InvoicePeriod }): Promise<UsageCharges> {
  const { from, to } = periodBounds(input.period);
  try {
    return await calculateCharges(ctx, { modelId: input.modelId, from, to, customerId: input.customerId });
  } catch (error) {
    // No version is asked for, so a missing model or "no such version" both mean no such model.
    const unknownModel = error instanceof AppError && (error.status === 404 || (error.status === 422 && error.errors?.some((e) => e.path === "version")));
    if (unknownModel) {
      throw new Unprocessable([{ path: "model_id", message: `No billing model ${input.modelId} in this organisation` }]);
    }
    throw error;
  }
}
