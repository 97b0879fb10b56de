/** Which billing model each customer of the organisation is billed with (the monthly run bills every such customer). */
import { and, eq } from "drizzle-orm";
import { billingModels, customerBillingPlans, customers } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import type { BillingPlanView, PutBillingPlanInput } from "./schemas";

type PlanRow = typeof customerBillingPlans.$inferSelect;

function planView(row: PlanRow): BillingPlanView {
  return {
    customer_id: row.customerId,
    model_id: row.modelId,
    seats: row.seats,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * The customer row of the organisation, read here rather than through the customers service:
 * putting a customer on a plan needs billing_models rights, not customers:read.
 */
async function customerInOrg(ctx: ServiceCtx, orgId: string, id: string): Promise<{ archivedAt: Date | null }> {
  const [row] = await ctx.db
    .select({ archivedAt: customers.archivedAt })
    .from(customers)
    .where(and(eq(customers.id, id), eq(customers.orgId, orgId)));
  if (!row) throw new NotFound("customer", id);
  return row;
}

/** Puts a customer on a billing model (or moves it to another), with an optional manual seat count. */
export async function putBillingPlan(ctx: ServiceCtx, customerId: string, input: PutBillingPlanInput): Promise<BillingPlanView> {
  assertCan(ctx, "billing_models:write");
  const orgId = requireOrgId(ctx);
  const customer = await customerInOrg(ctx, orgId, customerId);
  if (customer.archivedAt) throw new Conflict(`Customer ${customerId} is archived`);
  const [model] = await ctx.db
    .select({ archivedAt: billingModels.archivedAt })
    .from(billingModels)
    .where(and(eq(billingModels.id, input.model_id), eq(billingModels.orgId, orgId)));
  if (!model) throw new Unprocessable([{ path: "model_id", message: `No billing model ${input.model_id} in this organisation` }]);
  if (model.archivedAt) throw new Unprocessable([{ path: "model_id", message: `Billing model ${input.model_id} is archived` }]);
  const now = ctx.now();
  const seats = input.seats ?? null;
  const [row] = await ctx.db
    .insert(customerBillingPlans)
    .values({ orgId, customerId, modelId: input.model_id, seats, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({ target: [customerBillingPlans.orgId, customerBillingPlans.customerId], set: { modelId: input.model_id, seats, updatedAt: now } })
    .returning();
  if (!row) throw new Error("billing plan upsert returned no row");
  await recordAudit(ctx, {
    orgId,
    action: "customer.billing_plan_set",
    targetType: "customer",
    targetId: customerId,
    metadata: { model_id: input.model_id, seats },
  });
  return planView(row);
}

export async function getBillingPlan(ctx: ServiceCtx, customerId: string): Promise<BillingPlanView> {
  assertCan(ctx, "billing_models:read");
  const orgId = requireOrgId(ctx);
  await customerInOrg(ctx, orgId, customerId);
  const [row] = await ctx.db
    .select()
    .from(customerBillingPlans)
    .where(and(eq(customerBillingPlans.orgId, orgId), eq(customerBillingPlans.customerId, customerId)));
  if (!row) throw new NotFound("billing plan of customer", customerId);
  return planView(row);
}

/** Takes a customer off billing: the monthly run stops invoicing it. Invoices already made stay. */
export async function removeBillingPlan(ctx: ServiceCtx, customerId: string): Promise<void> {
  assertCan(ctx, "billing_models:write");
  const orgId = requireOrgId(ctx);
  await customerInOrg(ctx, orgId, customerId);
  const removed = await ctx.db
    .delete(customerBillingPlans)
    .where(and(eq(customerBillingPlans.orgId, orgId), eq(customerBillingPlans.customerId, customerId)))
    .returning({ modelId: customerBillingPlans.modelId });
  if (removed.length === 0) throw new NotFound("billing plan of customer", customerId);
  await recordAudit(ctx, {
    orgId,
    action: "customer.billing_plan_removed",
    targetType: "customer",
    targetId: customerId,
    metadata: { model_id: removed[0]?.modelId },
  });
}
