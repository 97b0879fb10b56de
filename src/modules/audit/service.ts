import { auditEvents } from "../../db/schema";
import type { ServiceCtx } from "../../lib/context";
import { newId } from "../../lib/ids";

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
