import { and, desc, eq, lt } from "drizzle-orm";
import { auditEvents } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { requireOrgId } from "../auth/principal";
import type { AuditEventView } from "./schemas";

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

function auditEventView(row: typeof auditEvents.$inferSelect): AuditEventView {
  return {
    id: row.id,
    action: row.action,
    actor_user_id: row.actorUserId,
    actor_api_key_id: row.actorApiKeyId,
    target_type: row.targetType,
    target_id: row.targetId,
    ip: row.ip,
    metadata: row.metadata,
    created_at: row.createdAt.toISOString(),
  };
}

/** The active organisation's audit events, newest first; `cursor` is the last id of the previous page. */
export async function listAuditEvents(ctx: ServiceCtx, query: PageRequest & { action?: string }): Promise<Page<AuditEventView>> {
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
  return toPage(rows, query.limit, (row) => row.id, auditEventView);
}
