import { and, eq, isNotNull, sql } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { users } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { recordAudit } from "../audit/service";

/**
 * The one-time bootstrap of platform staff: when `FIRST_SUPERUSER_EMAIL` is set and no
 * super-admin exists yet, the user with that email becomes one as they start a session.
 * Once any super-admin exists it does nothing, whatever the variable says later.
 *
 * The mailbox must be proven first (an emailed sign-in code, a password reset, or Google),
 * so whoever merely signs up with the address before the operator does gains nothing.
 * Returns whether this call made the user a super-admin.
 */
export async function bootstrapFirstSuperuser(ctx: ServiceCtx, userId: string): Promise<boolean> {
  const email = ctx.config.firstSuperuserEmail;
  if (!email) return false;
  // One cheap read first, so ordinary sign-ins never open a transaction.
  const [candidate] = await ctx.db
    .select({ id: users.id, superAdminExists: sql<boolean>`exists (select 1 from ${users} where ${users.isSuperAdmin})` })
    .from(users)
    .where(and(eq(users.id, userId), eq(sql`lower(${users.email})`, email), isNotNull(users.emailVerifiedAt)));
  if (!candidate || candidate.superAdminExists) return false;

  const granted = await withTransaction(ctx, async (tx) => {
    // Every bootstrap takes this lock, so two racing sessions cannot both see "none yet".
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended('first_superuser', 0))`);
    const [existing] = await tx.select({ id: users.id }).from(users).where(eq(users.isSuperAdmin, true)).limit(1);
    if (existing) return false;
    const updated = await tx.update(users).set({ isSuperAdmin: true, updatedAt: ctx.now() }).where(eq(users.id, userId)).returning({ id: users.id });
    return updated.length === 1;
  });
  if (granted) {
    await recordAudit(ctx, { orgId: null, action: "super_admin.bootstrapped", actorUserId: userId, targetType: "user", targetId: userId });
    ctx.log.warn("first super-admin granted from FIRST_SUPERUSER_EMAIL", { user_id: userId });
  }
  return granted;
}
