import { and, asc, eq, gt } from "drizzle-orm";
import { type Database, withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { roles } from "../../../db/schema";
import type { Actor, ServiceCtx } from "../../../lib/context";
import { Conflict, type FieldError, Forbidden, NotFound, Unauthorized, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { recordAudit } from "../audit/service";
import { expandGrants, grants, isSystemRole, knownPermissions, roleGrants, SYSTEM_ROLES, type SystemRole } from "../auth/permissions";
import { requireOrgId } from "../auth/principal";
import { cancelPendingInvitationsForRole, countRoleHolders } from "../members/queries";
import type { RoleInput, RoleView } from "./schemas";

type RoleRow = typeof roles.$inferSelect;

const SYSTEM_ROLE_DESCRIPTIONS: Record<SystemRole, string> = {
  owner: "Everything, including deleting the organisation",
  admin: "Everything except deleting the organisation",
  member: "Works with the organisation's data; cannot manage people, roles, API keys or read the audit log",
  viewer: "Reads the organisation's data",
};

/** A role that can be given to a member: a system role or a custom role of the organisation. */
export interface AssignableRole {
  id: string;
  name: string;
  allow(permission: string): boolean;
}

function systemRoleView(role: SystemRole): RoleView {
  return {
    id: role,
    name: role,
    description: SYSTEM_ROLE_DESCRIPTIONS[role],
    permissions: expandGrants(roleGrants(role, null).allow),
    system: true,
    created_at: null,
    updated_at: null,
  };
}

function customRoleView(row: RoleRow): RoleView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    permissions: row.permissions,
    system: false,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * Looks up `roleId` (a system role name or a custom role id of `orgId`), or null. With `lock`,
 * the custom role row is held FOR SHARE until the transaction ends, so `deleteRole` cannot remove
 * a role while it is being given to someone.
 */
export async function findAssignableRole(db: Database, orgId: string, roleId: string, options: { lock?: boolean } = {}): Promise<AssignableRole | null> {
  if (isSystemRole(roleId)) return { id: roleId, name: roleId, allow: roleGrants(roleId, null).allow };
  const query = db
    .select({ id: roles.id, name: roles.name, permissions: roles.permissions })
    .from(roles)
    .where(and(eq(roles.id, roleId), eq(roles.orgId, orgId)));
  const [row] = options.lock ? await query.for("share") : await query;
  return row ? { id: row.id, name: row.name, allow: (p) => grants(row.permissions, p) } : null;
}

function actingAsOwner(actor: Actor): boolean {
  return actor.role === "owner" || actor.role === "super_admin";
}

function permissionsBeyond(actor: Actor, role: AssignableRole): string[] {
  return [...knownPermissions].filter((p) => role.allow(p) && !actor.can(p)).sort();
}

function describe(permissions: string[]): string {
  return permissions.length > 5 ? `${permissions.slice(0, 5).join(", ")} and ${permissions.length - 5} more` : permissions.join(", ");
}

function requireActor(ctx: ServiceCtx): Actor {
  if (!ctx.actor) throw new Unauthorized();
  return ctx.actor;
}

/**
 * Nobody hands out rights they do not hold: without this an admin could give themselves a custom
 * role with `*` (or edit one they hold) and gain org:delete. Only an owner grants owner.
 */
export function requireMayGrant(ctx: ServiceCtx, role: AssignableRole): void {
  const actor = requireActor(ctx);
  if (role.id === "owner" && !actingAsOwner(actor)) throw new Forbidden("Only an owner may grant the owner role");
  const beyond = permissionsBeyond(actor, role);
  if (beyond.length > 0) throw new Forbidden(`You cannot grant the role ${role.name}: it allows ${describe(beyond)}, which you do not hold`);
}

/** Changing or removing a member needs at least the rights of their current role (an admin cannot remove an owner). */
export function requireMayManage(ctx: ServiceCtx, currentRole: AssignableRole): void {
  const actor = requireActor(ctx);
  if (currentRole.id === "owner" && !actingAsOwner(actor)) throw new Forbidden("Only an owner may change or remove an owner");
  const beyond = permissionsBeyond(actor, currentRole);
  if (beyond.length > 0) throw new Forbidden(`You cannot manage a member whose role ${currentRole.name} allows ${describe(beyond)}, which you do not hold`);
}

/** Whether `pattern` is a known permission or a wildcard that covers at least one. */
function isKnownPattern(pattern: string): boolean {
  if (pattern === "*" || knownPermissions.has(pattern)) return true;
  const known = [...knownPermissions];
  if (/^[a-z_]+:\*$/.test(pattern)) return known.some((p) => p.startsWith(pattern.slice(0, -1)));
  if (/^\*:[a-z_]+$/.test(pattern)) return known.some((p) => p.endsWith(pattern.slice(1)));
  return false;
}

/** Deduplicated permissions, or 422 naming every unknown entry by its index. */
function validatedPermissions(permissions: string[]): string[] {
  const errors: FieldError[] = [];
  permissions.forEach((p, i) => {
    if (!isKnownPattern(p)) errors.push({ path: `permissions.${i}`, message: `unknown permission "${p}"` });
  });
  if (errors.length > 0) throw new Unprocessable(errors, "Every permission must be a known one (customers:read) or a wildcard (customers:*, *:read, *)");
  return [...new Set(permissions)];
}

function refuseSystemName(name: string): void {
  if (isSystemRole(name.toLowerCase())) throw new Conflict(`${name} is the name of a system role; choose another`);
}

function refuseSystemRole(id: string): void {
  if (isSystemRole(id)) throw new Forbidden("System roles cannot be changed or deleted");
}

/** System roles first (in their fixed order), then the organisation's custom roles, oldest first. */
export async function listRoles(ctx: ServiceCtx, page: PageRequest): Promise<Page<RoleView>> {
  const orgId = requireOrgId(ctx);
  const systemIndex = page.cursor ? (SYSTEM_ROLES as readonly string[]).indexOf(page.cursor) : -1;
  const systemPart: readonly SystemRole[] = !page.cursor ? SYSTEM_ROLES : SYSTEM_ROLES.slice(systemIndex + 1);
  const customAfter = page.cursor && systemIndex < 0 ? page.cursor : undefined;
  const needed = page.limit + 1 - systemPart.length;
  const custom =
    needed > 0
      ? await ctx.db
          .select()
          .from(roles)
          .where(and(eq(roles.orgId, orgId), customAfter ? gt(roles.id, customAfter) : undefined))
          .orderBy(asc(roles.id))
          .limit(needed)
      : [];
  const views = [...systemPart.map(systemRoleView), ...custom.map(customRoleView)];
  return toPage(
    views,
    page.limit,
    (v) => v.id,
    (v) => v,
  );
}

export async function createRole(ctx: ServiceCtx, input: RoleInput): Promise<RoleView> {
  const orgId = requireOrgId(ctx);
  refuseSystemName(input.name);
  const permissions = validatedPermissions(input.permissions);
  requireMayGrant(ctx, { id: "", name: input.name, allow: (p) => grants(permissions, p) });
  const id = newId("role");
  return withTransaction(ctx, async (tx) => {
    // The unique index on (org_id, lower(name)) decides a race between two creations of one name.
    const [row] = await tx
      .insert(roles)
      .values({ id, orgId, name: input.name, description: input.description ?? null, permissions })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new Conflict(`A role named ${input.name} already exists`);
    await recordAudit({ ...ctx, db: tx }, { orgId, action: "role.created", targetType: "role", targetId: id, metadata: { name: input.name, permissions } });
    return customRoleView(row);
  });
}

/** Replaces a custom role's name, description and permissions; members holding it are affected at once. */
export async function updateRole(ctx: ServiceCtx, roleId: string, input: RoleInput): Promise<RoleView> {
  const orgId = requireOrgId(ctx);
  refuseSystemRole(roleId);
  refuseSystemName(input.name);
  const permissions = validatedPermissions(input.permissions);
  return withTransaction(ctx, async (tx) => {
    const [before] = await tx
      .select()
      .from(roles)
      .where(and(eq(roles.id, roleId), eq(roles.orgId, orgId)))
      .for("update");
    if (!before) throw new NotFound("role", roleId);
    // Editing a role is granting it to everyone who holds it, possibly the editor.
    requireMayManage(ctx, { id: before.id, name: before.name, allow: (p) => grants(before.permissions, p) });
    requireMayGrant(ctx, { id: before.id, name: input.name, allow: (p) => grants(permissions, p) });
    let after: RoleRow | undefined;
    try {
      [after] = await tx
        .update(roles)
        .set({ name: input.name, description: input.description ?? null, permissions, updatedAt: ctx.now() })
        .where(eq(roles.id, roleId))
        .returning();
    } catch (error) {
      if (isUniqueViolation(error)) throw new Conflict(`A role named ${input.name} already exists`);
      throw error;
    }
    await recordAudit(
      { ...ctx, db: tx },
      {
        orgId,
        action: "role.updated",
        targetType: "role",
        targetId: roleId,
        metadata: { before: { name: before.name, permissions: before.permissions }, after: { name: input.name, permissions } },
      },
    );
    return customRoleView(after as RoleRow);
  });
}

/** The organisation's custom roles (the four system roles are not counted), for other modules' figures. */
export async function countCustomRoles(ctx: ServiceCtx, orgId: string): Promise<number> {
  return ctx.db.$count(roles, eq(roles.orgId, orgId));
}

/** Deletes a custom role no member holds (409 otherwise), cancelling invitations that offer it. */
export async function deleteRole(ctx: ServiceCtx, roleId: string): Promise<void> {
  const orgId = requireOrgId(ctx);
  refuseSystemRole(roleId);
  await withTransaction(ctx, async (tx) => {
    // Giving someone this role (change-role, invite, accept) holds the row FOR SHARE until it
    // commits. Taking it FOR UPDATE waits for those, so the counts below cannot miss a member who
    // is being given the role right now, and later assignments find the role gone.
    const [role] = await tx
      .select({ id: roles.id, name: roles.name })
      .from(roles)
      .where(and(eq(roles.id, roleId), eq(roles.orgId, orgId)))
      .for("update");
    if (!role) throw new NotFound("role", roleId);
    // memberships.role and invitations.role point at this row without a foreign key (they may
    // also hold a system role name), so nothing stops the delete but these checks. They run in
    // this transaction, behind the lock above.
    const holders = await countRoleHolders(tx, orgId, roleId);
    if (holders > 0) throw new Conflict(`${holders} member(s) still hold the role ${role.name}; give them another role first`);
    const cancelled = await cancelPendingInvitationsForRole(tx, orgId, roleId);
    await tx.delete(roles).where(eq(roles.id, roleId));
    await recordAudit(
      { ...ctx, db: tx },
      { orgId, action: "role.deleted", targetType: "role", targetId: roleId, metadata: { name: role.name, cancelled_invitations: cancelled } },
    );
  });
}
