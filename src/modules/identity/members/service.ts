import { and, asc, eq, gt, isNull, sql } from "drizzle-orm";
import { type Database, type Transaction, withTransaction } from "../../../db/client";
import { invitations, memberships, organizations, users } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { randomToken, sha256Hex } from "../../../lib/crypto";
import { Conflict, Forbidden, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { sendMessage } from "../../messaging/outbound/service";
import { assertMemberSeat } from "../../money/plans/limits";
import { revokeMemberApiKeys } from "../api-keys/service";
import { recordAudit } from "../audit/service";
import { requireOrgId } from "../auth/principal";
import type { PublicUser } from "../auth/service";
import { type Newcomer, sendWelcome } from "../auth/welcome";
import type { OrgView } from "../orgs/schemas";
import { loadOrg, requireActiveOrg, requireUser } from "../orgs/service";
import { type AssignableRole, findAssignableRole, requireMayGrant, requireMayManage } from "../roles/service";
import type { InvitationView, MemberView, RenameUserInput } from "./schemas";

const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const memberColumns = {
  userId: memberships.userId,
  email: users.email,
  name: users.name,
  role: memberships.role,
  joinedAt: memberships.createdAt,
};

interface MemberRow {
  userId: string;
  email: string;
  name: string;
  role: string;
  joinedAt: Date;
}

function memberView(row: MemberRow): MemberView {
  return { user_id: row.userId, email: row.email, name: row.name, role: row.role, joined_at: row.joinedAt.toISOString() };
}

/**
 * Locks every owner membership of the organisation, in user-id order so that two transactions
 * never wait on each other crosswise, and returns the owners' ids. Run it first in any
 * transaction that could leave the organisation without an owner.
 */
async function lockOwners(tx: Transaction, orgId: string): Promise<string[]> {
  const rows = await tx
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.role, "owner")))
    .orderBy(asc(memberships.userId))
    .for("update");
  return rows.map((r) => r.userId);
}

async function lockMember(tx: Transaction, orgId: string, userId: string): Promise<MemberRow | undefined> {
  const [row] = await tx
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)))
    .for("update", { of: memberships });
  return row;
}

/** The member's current role; a dangling custom role id grants nothing. */
async function currentRole(db: Database, orgId: string, roleId: string): Promise<AssignableRole> {
  return (await findAssignableRole(db, orgId, roleId)) ?? { id: roleId, name: roleId, allow: () => false };
}

export async function listMembers(ctx: ServiceCtx, orgId: string, page: PageRequest): Promise<Page<MemberView>> {
  requireActiveOrg(ctx, orgId);
  const rows = await ctx.db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), page.cursor ? gt(memberships.userId, page.cursor) : undefined))
    .orderBy(asc(memberships.userId))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, (r) => r.userId, memberView);
}

/** A member of the active organisation: their public profile and role; 404 for anyone else. */
export async function getMember(ctx: ServiceCtx, userId: string): Promise<MemberView> {
  const orgId = requireOrgId(ctx);
  const [row] = await ctx.db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)));
  if (!row) throw new NotFound("user", userId);
  return memberView(row);
}

/**
 * Changes a user's display name: their own, or, with members:write in the active organisation,
 * a member's (one the caller may manage: an admin does not rename an owner). Anyone else gets
 * 404, as if the user did not exist. The name is the user's everywhere, in every organisation.
 */
export async function renameUser(ctx: ServiceCtx, userId: string, input: RenameUserInput): Promise<PublicUser> {
  const actor = ctx.actor;
  const self = actor?.userId === userId;
  return withTransaction(ctx, async (tx) => {
    const orgId = self ? null : (actor?.orgId ?? null);
    if (!self) {
      const target = orgId ? await lockMember(tx, orgId, userId) : undefined;
      if (!orgId || !target) throw new NotFound("user", userId);
      // A fellow member may see this user already (GET /v1/users/{id}), so a refusal leaks nothing.
      if (!actor?.can("members:write")) throw new Forbidden("Changing another member's name needs the members:write permission");
      requireMayManage(ctx, await currentRole(tx, orgId, target.role));
    }
    const [before] = await tx.select({ name: users.name }).from(users).where(eq(users.id, userId)).for("update");
    if (!before) throw new NotFound("user", userId);
    const [user] = await tx
      .update(users)
      .set({ name: input.name, updatedAt: ctx.now() })
      .where(eq(users.id, userId))
      .returning({ id: users.id, email: users.email, name: users.name });
    if (!user) throw new NotFound("user", userId);
    await recordAudit(
      { ...ctx, db: tx },
      { orgId, action: "user.renamed", targetType: "user", targetId: userId, metadata: { from: before.name, to: user.name } },
    );
    return user;
  });
}

/**
 * Invites `email` to the organisation with `role`: stores the invitation (token hashed, 7 days)
 * and emails the link through the outbound queue. A repeat invitation to the same address
 * replaces the pending one, so only the newest link works.
 */
export async function inviteMember(ctx: ServiceCtx, orgId: string, input: { email: string; role: string }): Promise<InvitationView> {
  requireActiveOrg(ctx, orgId);
  const email = input.email.trim();
  const token = randomToken(32);
  const tokenHash = await sha256Hex(token);
  const id = newId("inv");
  const expiresAt = new Date(ctx.now().getTime() + INVITATION_TTL_MS);

  const { role, orgName } = await withTransaction(ctx, async (tx) => {
    await assertMemberSeat(tx, orgId, ctx.now(), { countPending: true, replacingEmail: email });
    const role = await findAssignableRole(tx, orgId, input.role, { lock: true });
    if (!role) throw new Unprocessable([{ path: "role", message: `no role ${input.role} in this organisation` }]);
    requireMayGrant(ctx, role);
    const [member] = await tx
      .select({ userId: memberships.userId })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.orgId, orgId), eq(sql`lower(${users.email})`, email.toLowerCase())));
    if (member) throw new Conflict(`${email} is already a member of this organisation`);
    await tx
      .delete(invitations)
      .where(and(eq(invitations.orgId, orgId), eq(sql`lower(${invitations.email})`, email.toLowerCase()), isNull(invitations.acceptedAt)));
    await tx.insert(invitations).values({ id, orgId, email, role: role.id, tokenHash, invitedBy: ctx.actor?.userId ?? null, expiresAt });
    await recordAudit({ ...ctx, db: tx }, { orgId, action: "member.invited", targetType: "invitation", targetId: id, metadata: { email, role: role.id } });
    const [org] = await tx.select({ name: organizations.name }).from(organizations).where(eq(organizations.id, orgId));
    return { role, orgName: org?.name ?? "an organisation" };
  });

  // Sent after the commit: the queue consumer must find the invitation when the mail goes out.
  const link = `${ctx.config.appUrl}/invitations/accept?token=${encodeURIComponent(token)}`;
  await sendMessage(ctx, {
    orgId,
    channel: "email",
    recipient: email,
    subject: `You are invited to join ${orgName} on Billx`,
    body: `You have been invited to join ${orgName} on Billx as ${role.name}.\n\nAccept the invitation: ${link}\n\nThe link works once, for ${email} only, until ${expiresAt.toISOString()}.`,
    entity: { type: "invitation", id },
    idempotencyKey: `invitation:${id}`,
  });
  return { id, email, role: role.id, expires_at: expiresAt.toISOString() };
}

/** The signed-in user joins the organisation of the invitation; the token works once, for the invited address only. */
export async function acceptInvitation(ctx: ServiceCtx, token: string): Promise<OrgView> {
  const userId = requireUser(ctx);
  const tokenHash = await sha256Hex(token);
  let newcomer: Newcomer | undefined;
  const org = await withTransaction(ctx, async (tx) => {
    const [found] = await tx
      .select({ id: invitations.id, orgId: invitations.orgId, role: invitations.role })
      .from(invitations)
      .where(eq(invitations.tokenHash, tokenHash));
    if (!found) throw new NotFound("invitation");
    // The seat lock first, then the role, then the invitation: one order for every path.
    await assertMemberSeat(tx, found.orgId, ctx.now(), { countPending: false });
    // The role before the invitation: deleteRole locks in that order too, so they cannot deadlock.
    const role = await findAssignableRole(tx, found.orgId, found.role, { lock: true });
    // Two accepts of one token race here: the row lock makes the second wait until the first
    // commits, and it then sees accepted_at set.
    const [invitation] = await tx.select().from(invitations).where(eq(invitations.id, found.id)).for("update");
    if (!invitation) throw new NotFound("invitation");
    const [user] = await tx.select({ email: users.email, name: users.name }).from(users).where(eq(users.id, userId));
    if (user?.email.toLowerCase() !== invitation.email.toLowerCase()) {
      throw new Forbidden("This invitation was sent to another email address; sign in as that user to accept it");
    }
    if (invitation.acceptedAt) throw new Conflict("This invitation has already been used");
    if (invitation.expiresAt <= ctx.now()) throw new Conflict("This invitation has expired; ask for a new one");
    if (!role) throw new Conflict("The role this invitation offers no longer exists; ask for a new invitation");
    const joined = await tx.insert(memberships).values({ orgId: invitation.orgId, userId, role: role.id }).onConflictDoNothing().returning();
    if (joined.length === 0) throw new Conflict("You are already a member of this organisation");
    await tx.update(invitations).set({ acceptedAt: ctx.now() }).where(eq(invitations.id, invitation.id));
    await recordAudit(
      { ...ctx, db: tx },
      { orgId: invitation.orgId, action: "member.joined", targetType: "user", targetId: userId, metadata: { invitation_id: invitation.id, role: role.id } },
    );
    const view = await loadOrg(tx, invitation.orgId, role.id);
    newcomer = { userId, email: user.email, name: user.name, joined: { orgId: view.id, orgName: view.name } };
    return view;
  });
  // After the commit, so the welcome never names a membership that was rolled back.
  if (newcomer) await sendWelcome(ctx, newcomer);
  return org;
}

/** Removes a member. The last owner cannot be removed (409): an organisation always has one. */
export async function removeMember(ctx: ServiceCtx, orgId: string, userId: string): Promise<void> {
  requireActiveOrg(ctx, orgId);
  await withTransaction(ctx, async (tx) => {
    // Two owners removing each other at once would each see the other still an owner and both
    // succeed, leaving no owner. With the owner rows locked first, the second waits and then
    // counts the owners the first left behind.
    const owners = await lockOwners(tx, orgId);
    const target = await lockMember(tx, orgId, userId);
    if (!target) throw new NotFound("member", userId);
    if (target.role === "owner" && owners.length <= 1) throw new Conflict("The last owner cannot be removed; make another member owner first");
    requireMayManage(ctx, await currentRole(tx, orgId, target.role));
    await tx.delete(memberships).where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)));
    // Tokens need nothing here: every request re-reads the membership. Keys are the org's own
    // credentials, so the ones this member made are revoked with the membership.
    await revokeMemberApiKeys({ ...ctx, db: tx }, orgId, userId);
    await recordAudit({ ...ctx, db: tx }, { orgId, action: "member.removed", targetType: "user", targetId: userId, metadata: { role: target.role } });
  });
}

/**
 * Gives a member of the active organisation another role (`roleId`: a system role name or a
 * custom role id). The last owner cannot be demoted (409); only an owner grants owner (403).
 */
export async function changeMemberRole(ctx: ServiceCtx, userId: string, roleId: string): Promise<MemberView> {
  const orgId = requireOrgId(ctx);
  return withTransaction(ctx, async (tx) => {
    // Two owners demoting each other at once would both pass a plain "another owner exists"
    // check and leave none. Locking the owner rows first makes the second wait and then see
    // that it would demote the last owner.
    const owners = await lockOwners(tx, orgId);
    const target = await lockMember(tx, orgId, userId);
    if (!target) throw new NotFound("user", userId);
    const role = await findAssignableRole(tx, orgId, roleId, { lock: true });
    if (!role) throw new NotFound("role", roleId);
    if (target.role === role.id) return memberView(target);
    if (target.role === "owner" && owners.length <= 1) throw new Conflict("The last owner cannot be demoted; make another member owner first");
    requireMayManage(ctx, await currentRole(tx, orgId, target.role));
    requireMayGrant(ctx, role);
    await tx
      .update(memberships)
      .set({ role: role.id })
      .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)));
    await recordAudit(
      { ...ctx, db: tx },
      { orgId, action: "member.role_changed", targetType: "user", targetId: userId, metadata: { from: target.role, to: role.id } },
    );
    return memberView({ ...target, role: role.id });
  });
}

/** Email addresses of the organisation's owners, for notices only owners act on (a failed payment). */
export async function listOwnerEmails(ctx: Pick<ServiceCtx, "db">, orgId: string): Promise<string[]> {
  const rows = await ctx.db
    .select({ email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), eq(memberships.role, "owner")))
    .orderBy(asc(memberships.userId));
  return rows.map((r) => r.email);
}
