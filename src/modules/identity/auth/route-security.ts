import { requireAuth, requirePermission } from "./middleware";
import { declarePermission } from "./permissions";

/**
 * Spread into a `createRoute` config: bearer security in the OpenAPI document, the auth
 * middleware, and, with a permission, the permission check plus an `x-billx-permission`
 * extension naming it. A route with a permission is organisation-scoped: the tenant-isolation
 * test finds such routes through that extension.
 */
export function authed(permission?: string) {
  if (!permission) return { security: [{ bearerAuth: [] }], middleware: [requireAuth] };
  return {
    security: [{ bearerAuth: [] }],
    middleware: [requireAuth, requirePermission(declarePermission(permission))],
    "x-billx-permission": permission,
  };
}
