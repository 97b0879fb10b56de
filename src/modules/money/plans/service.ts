import { and, desc, eq, inArray } from "drizzle-orm";
import { subscriptions } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { currentPlanId, ENTITLED_STATUSES, seatsTaken } from "./limits";
import { PLANS, type PlanId, planFeatures } from "./plans";
import type { OrgPlanView, PlanView } from "./schemas";

function toPlanView(id: PlanId): PlanView {
  const plan = PLANS[id];
  return {
    id,
    name: plan.name,
    monthly_credits: plan.monthlyCredits,
    support: plan.support,
    limits: { organisations: plan.limits.organisations, members: plan.limits.members, phone_numbers: plan.limits.phoneNumbers },
    features: planFeatures(plan),
  };
}

/** Every plan, smallest first: the pricing page's catalogue. */
export function listPlans(): { data: PlanView[] } {
  return { data: (Object.keys(PLANS) as PlanId[]).map(toPlanView) };
}

/** The active organisation's plan, the subscription behind it and what counts against its limits. */
export async function getActiveOrgPlan(ctx: ServiceCtx): Promise<OrgPlanView> {
  assertCan(ctx, "credits:read");
  const orgId = requireOrgId(ctx);
  const planId = await currentPlanId(ctx.db, orgId);
  const [subscription] = await ctx.db
    .select({ status: subscriptions.status, currentPeriodEnd: subscriptions.currentPeriodEnd })
    .from(subscriptions)
    .where(and(eq(subscriptions.orgId, orgId), eq(subscriptions.plan, planId), inArray(subscriptions.status, [...ENTITLED_STATUSES])))
    .orderBy(desc(subscriptions.updatedAt))
    .limit(1);
  return {
    plan: toPlanView(planId),
    subscription: subscription ? { status: subscription.status, current_period_end: subscription.currentPeriodEnd?.toISOString() ?? null } : null,
    usage: { members: await seatsTaken(ctx.db, orgId, ctx.now(), { countPending: true }) },
  };
}
