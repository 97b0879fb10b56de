import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../../../db/client";
import { invitations, memberships } from "../../../db/schema";

// Membership queries other identity modules need (roles deletes a role only when nobody holds it).
// They live apart from ./service, which imports roles/service for its grant checks.

/**
 * How many members of `orgId` hold `roleId`. `deleteRole` calls it inside its transaction with
 * the role row locked FOR UPDATE; every assignment holds that row FOR SHARE, so none can slip
 * in between this count and the delete.
 */
export async function countRoleHolders(db: Database, orgId: string, roleId: string): Promise<number> {
  return db.$count(memberships, and(eq(memberships.orgId, orgId), eq(memberships.role, roleId)));
}

/** Cancels the pending invitations of `orgId` that offer `roleId` (their links stop working); returns how many. */
export async function cancelPendingInvitationsForRole(db: Database, orgId: string, roleId: string): Promise<number> {
  const cancelled = await db
    .delete(invitations)
    .where(and(eq(invitations.orgId, orgId), eq(invitations.role, roleId), isNull(invitations.acceptedAt)))
    .returning({ id: invitations.id });
  return cancelled.length;
}
