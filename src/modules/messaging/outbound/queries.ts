import { and, desc, eq, lt } from "drizzle-orm";
import { messages } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { NotFound } from "../../../lib/errors";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { requireOrgId } from "../../identity/auth/principal";
import type { MessageView } from "./schemas";
import type { MessageChannel, MessageRow } from "./types";

export function messageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    channel: row.channel,
    to: row.recipient,
    subject: row.subject,
    body: row.body,
    template: row.template,
    status: row.status,
    provider_message_id: row.providerMessageId,
    attempts: row.attempts,
    last_error: row.lastError,
    entity: row.entityType && row.entityId ? { type: row.entityType, id: row.entityId } : null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** The active organisation's messages, newest first, optionally by channel and status. */
export async function listMessages(
  ctx: ServiceCtx,
  query: PageRequest & { channel?: MessageChannel; status?: MessageRow["status"] },
): Promise<Page<MessageView>> {
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.orgId, orgId),
        query.channel ? eq(messages.channel, query.channel) : undefined,
        query.status ? eq(messages.status, query.status) : undefined,
        query.cursor ? lt(messages.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(messages.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (r) => r.id, messageView);
}

export async function getMessage(ctx: ServiceCtx, id: string): Promise<MessageView> {
  const orgId = requireOrgId(ctx);
  const [row] = await ctx.db
    .select()
    .from(messages)
    .where(and(eq(messages.id, id), eq(messages.orgId, orgId)));
  if (!row) throw new NotFound("message", id);
  return messageView(row);
}
