/**
 * Permissions are `resource:action` strings declared beside the routes that need them
 * (`requirePermission("customers:read")`). Roles grant lists of them; `*` and `resource:*` and
 * `*:read` are wildcards.
 */
export const SYSTEM_ROLES = ["owner", "admin", "member", "viewer"] as const;
export type SystemRole = (typeof SYSTEM_ROLES)[number];

/** Permissions only owners and admins hold: people, roles, keys, the audit trail and paying Stripe. */
const ADMINISTRATIVE = ["org:write", "org:delete", "members:write", "roles:write", "api_keys:write", "audit:read", "users:read", "billing:write"];

const SYSTEM_ROLE_GRANTS: Record<SystemRole, { grant: string[]; deny: string[] }> = {
  owner: { grant: ["*"], deny: [] },
  admin: { grant: ["*"], deny: ["org:delete"] },
  member: { grant: ["*:read", "*:write", "*:send", "*:query", "*:use"], deny: ADMINISTRATIVE },
  viewer: { grant: ["*:read"], deny: ADMINISTRATIVE },
};

/** Every permission a route has declared, collected as routes register (for validation and docs). */
export const knownPermissions = new Set<string>([...ADMINISTRATIVE, "org:read", "members:read", "roles:read", "api_keys:read"]);

export function declarePermission(permission: string): string {
  if (!/^[a-z_]+:[a-z_]+$/.test(permission)) throw new Error(`bad permission name ${permission}`);
  knownPermissions.add(permission);
  return permission;
}

export function isSystemRole(role: string): role is SystemRole {
  return (SYSTEM_ROLES as readonly string[]).includes(role);
}

function matches(pattern: string, permission: string): boolean {
  if (pattern === "*" || pattern === permission) return true;
  const [resource, action] = permission.split(":");
  return pattern === `${resource}:*` || pattern === `*:${action}`;
}

/** Whether a set of grants (with wildcards) allows `permission`. */
export function grants(granted: readonly string[], permission: string): boolean {
  return granted.some((pattern) => matches(pattern, permission));
}

/** The grants of a member: a system role's, or a custom role's explicit list. */
export function roleGrants(role: string, customPermissions: readonly string[] | null): { allow: (p: string) => boolean } {
  if (isSystemRole(role)) {
    const { grant, deny } = SYSTEM_ROLE_GRANTS[role];
    return { allow: (p) => grants(grant, p) && !deny.includes(p) };
  }
  const list = customPermissions ?? [];
  return { allow: (p) => grants(list, p) };
}

/** Every known permission a role allows: what an API key created by its holder may be scoped to. */
export function expandGrants(allow: (p: string) => boolean): string[] {
  return [...knownPermissions].filter(allow).sort();
}
