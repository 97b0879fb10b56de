import { and, asc, eq, gt, isNull } from "drizzle-orm";
import { chatbotPublishableKeys } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { randomToken } from "../../../lib/crypto";
import { Forbidden, NotFound, Unauthorized } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import type { CreatePublishableKeyInput, PublishableKeyView } from "./schemas";

type KeyRow = typeof chatbotPublishableKeys.$inferSelect;

const KEY_PREFIX = "pk_";

function keyView(row: KeyRow): PublishableKeyView {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    allowed_origins: row.allowedOrigins,
    created_at: row.createdAt.toISOString(),
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

/** `POST /v1/chatbot/publishable-keys`: a new key for the widget on the named sites. */
export async function createPublishableKey(ctx: ServiceCtx, input: CreatePublishableKeyInput): Promise<PublishableKeyView> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const [row] = await ctx.db
    .insert(chatbotPublishableKeys)
    .values({
      id: newId("cpk"),
      orgId,
      key: `${KEY_PREFIX}${randomToken(18)}`,
      name: input.name ?? null,
      allowedOrigins: [...new Set(input.allowed_origins)],
      createdBy: ctx.actor?.userId ?? null,
      createdAt: ctx.now(),
    })
    .returning();
  if (!row) throw new Error("publishable key insert returned no row");
  await recordAudit(ctx, { orgId, action: "chatbot.publishable_key_created", targetType: "chatbot_publishable_key", targetId: row.id });
  return keyView(row);
}

/** `GET /v1/chatbot/publishable-keys`: oldest first, revoked ones too. */
export async function listPublishableKeys(ctx: ServiceCtx, page: PageRequest): Promise<Page<PublishableKeyView>> {
  assertCan(ctx, "chatbot:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(chatbotPublishableKeys)
    .where(and(eq(chatbotPublishableKeys.orgId, orgId), page.cursor ? gt(chatbotPublishableKeys.id, page.cursor) : undefined))
    .orderBy(asc(chatbotPublishableKeys.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, (r) => r.id, keyView);
}

/** `DELETE /v1/chatbot/publishable-keys/{id}`: the key stops working at once; revoking twice is fine. */
export async function revokePublishableKey(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const [row] = await ctx.db
    .select({ id: chatbotPublishableKeys.id, revokedAt: chatbotPublishableKeys.revokedAt })
    .from(chatbotPublishableKeys)
    .where(and(eq(chatbotPublishableKeys.id, id), eq(chatbotPublishableKeys.orgId, orgId)));
  if (!row) throw new NotFound("publishable key", id);
  if (row.revokedAt) return;
  await ctx.db
    .update(chatbotPublishableKeys)
    .set({ revokedAt: ctx.now() })
    .where(and(eq(chatbotPublishableKeys.id, id), eq(chatbotPublishableKeys.orgId, orgId), isNull(chatbotPublishableKeys.revokedAt)));
  await recordAudit(ctx, { orgId, action: "chatbot.publishable_key_revoked", targetType: "chatbot_publishable_key", targetId: id });
}

export interface WidgetKey {
  id: string;
  orgId: string;
}

/**
 * The organisation a widget request speaks for: its key must be live (401 otherwise) and the
 * page's `Origin` one the key allows (403 otherwise; a browser always sends it on a cross-site POST).
 */
export async function resolvePublishableKey(ctx: ServiceCtx, key: string | undefined, origin: string | undefined): Promise<WidgetKey> {
  if (!key?.startsWith(KEY_PREFIX)) throw new Unauthorized("Send the site's publishable key in X-Publishable-Key");
  const [row] = await ctx.db
    .select()
    .from(chatbotPublishableKeys)
    .where(and(eq(chatbotPublishableKeys.key, key), isNull(chatbotPublishableKeys.revokedAt)));
  if (!row) throw new Unauthorized("Unknown or revoked publishable key");
  if (!origin || !row.allowedOrigins.includes(origin.toLowerCase()))
    throw new Forbidden(`This key may not be used from ${origin ?? "a page without an Origin"}`);
  return { id: row.id, orgId: row.orgId };
}
