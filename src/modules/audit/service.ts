import { and, desc, eq, lt } from "drizzle-orm";
import { auditEvents } from "../../db/schema";
import type { ServiceCtx } from "../../lib/context";
import { newId } from "../../lib/ids";
import { requireOrgId } from "../auth/principal";

export interface AuditInput {
  orgId: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  /** Who acted when there is no authenticated actor yet (a sign-in, a failed sign-in). */
  actorUserId?: string | null;
  metadata?: Record<string, unknown>;
}

/** Appends a security event to the audit log. Never carries secrets: callers pass ids, not tokens. */
export async function recordAudit(ctx: ServiceCtx, event: AuditInput): Promise<void> {
  await ctx.db.insert(auditEvents).values({
    id: newId("aud"),
    orgId: event.orgId,
    actorUserId: event.actorUserId ?? ctx.actor?.userId ?? null,
    actorApiKeyId: ctx.actor?.apiKeyId ?? null,
    action: event.action,
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    ip: ctx.request.ip,
    metadata: event.metadata ?? {},
  });
}

export interface AuditEventView {
  id: string;
  action: string;
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
}

/** The active organisation's audit events, newest first; `cursor` is the last id of the previous page. */
export async function listAuditEvents(
  ctx: ServiceCtx,
  query: { limit: number; cursor?: string; action?: string },
): Promise<{ data: AuditEventView[]; next_cursor: string | null }> {
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.orgId, orgId),
        query.cursor ? lt(auditEvents.id, query.cursor) : undefined,
        query.action ? eq(auditEvents.action, query.action) : undefined,
      ),
    )
    .orderBy(desc(auditEvents.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return {
    data: page.map((row) => ({
      id: row.id,
      action: row.action,
      actor_user_id: row.actorUserId,
      actor_api_key_id: row.actorApiKeyId,
      target_type: row.targetType,
      target_id: row.targetId,
      ip: row.ip,
      metadata: row.metadata,
      created_at: row.createdAt.toISOString(),
    })),
    next_cursor: rows.length > query.limit ? (page[page.length - 1]?.id ?? null) : null,
  };
}
