/**
 * The limits a plan states, enforced where the limited thing is created. Every check runs inside
 * the caller's transaction under an advisory lock, so racing requests cannot both take the last
 * place: the second waits for the first to commit and then counts it.
 */
import { and, count, eq, gt, inArray, isNull, ne, sql } from "drizzle-orm";
import type { Database } from "../../../db/client";
import { invitations, memberships, phoneNumbers, subscriptions } from "../../../db/schema";
import { AppError } from "../../../lib/errors";
import { DEFAULT_PLAN, isPlanId, PLANS, type PlanId, type PlanLimits } from "./plans";

/** Subscription statuses that keep a paid plan's limits (past_due is Stripe's grace period). */
export const ENTITLED_STATUSES = ["active", "trialing", "past_due"] as const;

// The limit's name in JSON, as `GET /v1/plans` spells it.
const LIMIT_JSON_NAMES: Record<keyof PlanLimits, string> = { organisations: "organisations", members: "members", phoneNumbers: "phone_numbers" };

/** A plan's limit is reached: 403, naming the plan, the limit and what it allows. */
export class PlanLimitReached extends AppError {
  constructor(plan: PlanId, limit: keyof PlanLimits, detail: string) {
    const allowed = PLANS[plan].limits[limit];
    super(403, "https://billx.dev/problems/plan-limit", "Plan limit reached", detail, undefined, undefined, { plan, limit: LIMIT_JSON_NAMES[limit], allowed });
  }
}

function entitledPlan(plan: string | null | undefined): PlanId {
  return plan && isPlanId(plan) ? plan : DEFAULT_PLAN;
}

/** The plan whose limits apply to an organisation now: its live paid subscription, else free. */
export async function currentPlanId(db: Database, orgId: string): Promise<PlanId> {
  const rows = await db
    .select({ plan: subscriptions.plan })
    .from(subscriptions)
    .where(and(eq(subscriptions.orgId, orgId), inArray(subscriptions.status, [...ENTITLED_STATUSES])));
  return bestPlan(rows.map((row) => entitledPlan(row.plan)));
}

// PLANS lists plans from the smallest to the largest.
const PLAN_ORDER = Object.keys(PLANS) as PlanId[];

/** The largest of several plans; free when there are none. */
function bestPlan(plans: PlanId[]): PlanId {
  return plans.reduce<PlanId>((best, plan) => (PLAN_ORDER.indexOf(plan) > PLAN_ORDER.indexOf(best) ? plan : best), DEFAULT_PLAN);
}

async function lock(tx: Database, key: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
}

/**
 * A person may own as many organisations as the best plan among those they already own allows,
 * so upgrading any one of them lifts the limit. Call inside the transaction that creates the org.
 */
export async function assertMayOwnAnotherOrg(tx: Database, userId: string): Promise<void> {
  await lock(tx, `plan-limit:organisations:${userId}`);
  const owned = await tx
    .select({ orgId: memberships.orgId, plan: subscriptions.plan })
    .from(memberships)
    .leftJoin(subscriptions, and(eq(subscriptions.orgId, memberships.orgId), inArray(subscriptions.status, [...ENTITLED_STATUSES])))
    .where(and(eq(memberships.userId, userId), eq(memberships.role, "owner")));
  const ownedCount = new Set(owned.map((row) => row.orgId)).size;
  const plan = bestPlan(owned.map((row) => entitledPlan(row.plan)));
  const allowed = PLANS[plan].limits.organisations;
  if (ownedCount >= allowed) {
    throw new PlanLimitReached(
      plan,
      "organisations",
      `The ${PLANS[plan].name} plan lets one person own ${allowed} organisations and you own ${ownedCount}; upgrade one of them to own more`,
    );
  }
}

/**
 * Places taken in an organisation: its members, plus (with `countPending`) pending invitations
 * other than one to `replacingEmail`, which a new invitation would replace.
 */
export async function seatsTaken(db: Database, orgId: string, now: Date, options: { countPending: boolean; replacingEmail?: string }): Promise<number> {
  const [members] = await db.select({ n: count() }).from(memberships).where(eq(memberships.orgId, orgId));
  if (!options.countPending) return members?.n ?? 0;
  const pendingFilter = [eq(invitations.orgId, orgId), isNull(invitations.acceptedAt), gt(invitations.expiresAt, now)];
  if (options.replacingEmail) pendingFilter.push(ne(sql`lower(${invitations.email})`, options.replacingEmail.toLowerCase()));
  const [pending] = await db
    .select({ n: count() })
    .from(invitations)
    .where(and(...pendingFilter));
  return (members?.n ?? 0) + (pending?.n ?? 0);
}

/**
 * One more member fits in the organisation's plan. Inviting counts pending invitations; accepting
 * passes `countPending: false`, since that invitation already held its place.
 */
export async function assertMemberSeat(tx: Database, orgId: string, now: Date, options: { countPending: boolean; replacingEmail?: string }): Promise<void> {
  await lock(tx, `plan-limit:members:${orgId}`);
  const plan = await currentPlanId(tx, orgId);
  const taken = await seatsTaken(tx, orgId, now, options);
  const allowed = PLANS[plan].limits.members;
  if (taken >= allowed) {
    throw new PlanLimitReached(
      plan,
      "members",
      `The ${PLANS[plan].name} plan allows ${allowed} members per organisation, pending invitations included, and this one has ${taken}; upgrade the plan or remove someone first`,
    );
  }
}

/** Numbers attached to the organisation's assistants, counted against `limits.phoneNumbers`. */
export async function phoneNumbersAttached(db: Database, orgId: string): Promise<number> {
  const [attached] = await db.select({ n: count() }).from(phoneNumbers).where(eq(phoneNumbers.orgId, orgId));
  return attached?.n ?? 0;
}

/** Serialises, until the transaction ends, everything that attaches a number to the organisation. */
export async function lockPhoneNumberSlots(tx: Database, orgId: string): Promise<void> {
  await lock(tx, `plan-limit:phone-numbers:${orgId}`);
}

/**
 * One more phone number fits in the organisation's plan. Call inside the transaction that inserts
 * the number; without a transaction (`locked: false`) it is only an early answer, not a guarantee.
 */
export async function assertPhoneNumberSlot(tx: Database, orgId: string, options: { locked: boolean } = { locked: true }): Promise<void> {
  if (options.locked) await lockPhoneNumberSlots(tx, orgId);
  const plan = await currentPlanId(tx, orgId);
  const attached = await phoneNumbersAttached(tx, orgId);
  const allowed = PLANS[plan].limits.phoneNumbers;
  if (attached >= allowed) {
    throw new PlanLimitReached(
      plan,
      "phoneNumbers",
      `The ${PLANS[plan].name} plan allows ${allowed} phone ${allowed === 1 ? "number" : "numbers"} per organisation and this one has ${attached}; upgrade the plan or detach one first`,
    );
  }
}
