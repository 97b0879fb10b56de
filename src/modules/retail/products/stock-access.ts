import type { Database, Transaction } from "../../../db/client";
import type { ServiceCtx } from "../../../lib/context";

const STOCK_PERMISSIONS: readonly string[] = ["products:read", "products:write"];

/**
 * `ctx` working through `db`, with the products permissions that reading products and moving
 * their stock need. For services whose own permission already implies moving stock (bills:write
 * sells goods, merchants:write buys them): a role holding that permission but none on products
 * can still sell or buy. The caller checks its own permission first; everything else about the
 * actor stays as it is.
 */
export function withStockRights(ctx: ServiceCtx, db: Database | Transaction): ServiceCtx {
  const actor = ctx.actor;
  if (!actor) return { ...ctx, db };
  const can = (permission: string) => STOCK_PERMISSIONS.includes(permission) || actor.can(permission);
  return { ...ctx, db, actor: { ...actor, can } };
}
