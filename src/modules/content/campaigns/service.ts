/**
 * Campaigns: one marketing message per customer of an audience, each through the outbound queue.
 * Exactly-once per customer rests on the messages' idempotency key `campaign:{id}:{customer}`
 * (a unique index decides races), not on the campaign's status: two starts, or a start racing
 * the cron, may both walk the audience, and each customer still gets one message.
 */
import { and, asc, desc, eq, inArray, lt, lte, type SQL, sql } from "drizzle-orm";
import { aiContents, type CampaignAudience, campaigns, messages } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { assertCan, requireOrgId, systemActor } from "../../identity/auth/principal";
import { sendMessage } from "../../messaging/outbound/service";
import { marketingAudience } from "../../retail/customers/audience";
import { getFileInOrg } from "../files/service";

type CampaignRow = typeof campaigns.$inferSelect;
const CAMPAIGN_ID = /^cmp_[0-9A-Za-z]{1,64}$/;
const CAMPAIGN_PERMISSIONS = ["campaigns:read", "campaigns:send"];
// Messages written per round trip of the fan-out.
const FAN_OUT_BATCH = 25;

export interface CampaignInput {
  channel: "sms" | "whatsapp" | "email";
  message?: string;
  ai_content_id?: string;
  banner_file_id?: string;
  audience: CampaignAudience;
  send_at?: string;
}

export interface CampaignView {
  id: string;
  channel: CampaignRow["channel"];
  message: string;
  ai_content_id: string | null;
  banner_file_id: string | null;
  audience: CampaignAudience;
  send_at: string | null;
  status: CampaignRow["status"];
  counts: { total: number; queued: number; sent: number; delivered: number; failed: number };
  created_at: string;
  started_at: string | null;
}

async function countsOf(ctx: ServiceCtx, row: CampaignRow): Promise<CampaignView["counts"]> {
  const rows = await ctx.db
    .select({ status: messages.status, n: sql<number>`count(*)`.mapWith(Number) })
    .from(messages)
    .where(and(eq(messages.orgId, row.orgId), eq(messages.entityType, "campaign"), eq(messages.entityId, row.id)))
    .groupBy(messages.status);
  const counts = { total: 0, queued: 0, sent: 0, delivered: 0, failed: 0 };
  for (const { status, n } of rows) {
    counts.total += n;
    if (status === "sent" || status === "delivered" || status === "failed") counts[status] += n;
    else if (status !== "read") counts.queued += n;
    // Read receipts imply delivery.
    else counts.delivered += n;
  }
  return counts;
}

async function view(ctx: ServiceCtx, row: CampaignRow): Promise<CampaignView> {
  return {
    id: row.id,
    channel: row.channel,
    message: row.message,
    ai_content_id: row.aiContentId,
    banner_file_id: row.bannerFileId,
    audience: row.audience,
    send_at: row.sendAt?.toISOString() ?? null,
    status: row.status,
    counts: await countsOf(ctx, row),
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
  };
}

async function messageFor(ctx: ServiceCtx, orgId: string, input: CampaignInput): Promise<string> {
  if ((input.message === undefined) === (input.ai_content_id === undefined)) {
    throw new Unprocessable([{ path: "message", message: "give either `message` or `ai_content_id`" }]);
  }
  if (input.message !== undefined) return input.message;
  const id = input.ai_content_id ?? "";
  const [content] = /^aic_[0-9A-Za-z]{1,64}$/.test(id)
    ? await ctx.db
        .select({ text: aiContents.text })
        .from(aiContents)
        .where(and(eq(aiContents.id, id), eq(aiContents.orgId, orgId)))
    : [];
  if (!content?.text) throw new Unprocessable([{ path: "ai_content_id", message: "no AI text of this organisation has this id" }]);
  return content.text;
}

/** Creates a campaign; without `send_at` (or with one already past) it starts at once. */
export async function createCampaign(ctx: ServiceCtx, input: CampaignInput): Promise<CampaignView> {
  assertCan(ctx, "campaigns:send");
  const orgId = requireOrgId(ctx);
  const { audience } = input;
  if (!audience.all && !audience.owing && !(audience.tags && audience.tags.length > 0)) {
    throw new Unprocessable([{ path: "audience", message: "name `tags`, `owing: true` or `all: true`" }]);
  }
  const message = await messageFor(ctx, orgId, input);
  if (input.banner_file_id !== undefined) {
    const file = await getFileInOrg(ctx, input.banner_file_id).catch(() => null);
    if (file?.kind !== "image") throw new Unprocessable([{ path: "banner_file_id", message: "no image file of this organisation has this id" }]);
  }
  const sendAt = input.send_at ? new Date(input.send_at) : null;
  const [row] = await ctx.db
    .insert(campaigns)
    .values({
      id: newId("cmp"),
      orgId,
      channel: input.channel,
      message,
      aiContentId: input.ai_content_id ?? null,
      bannerFileId: input.banner_file_id ?? null,
      audience,
      sendAt,
      status: "scheduled",
      createdAt: ctx.now(),
    })
    .returning();
  if (!sendAt || sendAt <= ctx.now()) return startCampaign(ctx, row!.id);
  return view(ctx, row!);
}

async function campaignRow(ctx: ServiceCtx, id: string): Promise<CampaignRow> {
  if (!CAMPAIGN_ID.test(id)) throw new NotFound("campaign", id.slice(0, 100).replaceAll("\u0000", ""));
  const [row] = await ctx.db
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.id, id), eq(campaigns.orgId, requireOrgId(ctx))));
  if (!row) throw new NotFound("campaign", id);
  return row;
}

export async function getCampaign(ctx: ServiceCtx, id: string): Promise<CampaignView> {
  assertCan(ctx, "campaigns:read");
  return view(ctx, await campaignRow(ctx, id));
}

export async function listCampaigns(ctx: ServiceCtx, query: PageRequest): Promise<Page<CampaignView>> {
  assertCan(ctx, "campaigns:read");
  const filters: SQL[] = [eq(campaigns.orgId, requireOrgId(ctx))];
  if (query.cursor) filters.push(lt(campaigns.id, query.cursor));
  const rows = await ctx.db
    .select()
    .from(campaigns)
    .where(and(...filters))
    .orderBy(desc(campaigns.id))
    .limit(query.limit + 1);
  const page = toPage(
    rows,
    query.limit,
    (row) => row.id,
    (row) => row,
  );
  return { data: await Promise.all(page.data.map((row) => view(ctx, row))), next_cursor: page.next_cursor };
}

/**
 * Sends the campaign now: marks it `sending` (a cancelled one is a 409), writes one queued
 * message per customer of the audience, then marks it `sent`. Safe to run twice at once.
 */
export async function startCampaign(ctx: ServiceCtx, id: string): Promise<CampaignView> {
  assertCan(ctx, "campaigns:send");
  const row = await campaignRow(ctx, id);
  const [claimed] = await ctx.db
    .update(campaigns)
    .set({ status: "sending", startedAt: sql`coalesce(${campaigns.startedAt}, ${ctx.now()})` })
    .where(and(eq(campaigns.id, row.id), eq(campaigns.orgId, row.orgId), inArray(campaigns.status, ["scheduled", "sending", "sent"])))
    .returning();
  if (!claimed) throw new Conflict(`Campaign ${row.id} was cancelled`);
  const members = await marketingAudience(ctx, row.orgId, row.channel, row.audience);
  for (let i = 0; i < members.length; i += FAN_OUT_BATCH) {
    await Promise.all(
      members.slice(i, i + FAN_OUT_BATCH).map((member) =>
        sendMessage(ctx, {
          orgId: row.orgId,
          channel: row.channel,
          recipient: member.recipient,
          body: row.message,
          subject: row.channel === "email" ? row.message.split("\n")[0]?.slice(0, 150) : undefined,
          idempotencyKey: `campaign:${row.id}:${member.customerId}`,
          entity: { type: "campaign", id: row.id },
        }).catch((error: unknown) => ctx.log.warn("campaign message not queued", { campaign_id: row.id, customer_id: member.customerId, error })),
      ),
    );
  }
  const [sent] = await ctx.db
    .update(campaigns)
    .set({ status: "sent", recipients: members.length })
    .where(and(eq(campaigns.id, row.id), eq(campaigns.orgId, row.orgId), eq(campaigns.status, "sending")))
    .returning();
  return view(ctx, sent ?? claimed);
}

/** Cancels a campaign that has not started; one that has is a 409. */
export async function cancelCampaign(ctx: ServiceCtx, id: string): Promise<CampaignView> {
  assertCan(ctx, "campaigns:send");
  const row = await campaignRow(ctx, id);
  const [cancelled] = await ctx.db
    .update(campaigns)
    .set({ status: "cancelled" })
    .where(and(eq(campaigns.id, row.id), eq(campaigns.orgId, row.orgId), eq(campaigns.status, "scheduled")))
    .returning();
  if (!cancelled) throw new Conflict(`Campaign ${row.id} is ${row.status}; only a scheduled campaign can be cancelled`);
  return view(ctx, cancelled);
}

/** Cron: starts every scheduled campaign whose `send_at` has come (overlapping runs are harmless). */
export async function startDueCampaigns(ctx: ServiceCtx): Promise<number> {
  const due = await ctx.db
    .select({ id: campaigns.id, orgId: campaigns.orgId })
    .from(campaigns)
    .where(and(eq(campaigns.status, "scheduled"), lte(campaigns.sendAt, ctx.now())))
    .orderBy(asc(campaigns.sendAt))
    .limit(100);
  for (const campaign of due) {
    await startCampaign({ ...ctx, actor: systemActor(campaign.orgId, CAMPAIGN_PERMISSIONS) }, campaign.id).catch((error: unknown) =>
      ctx.log.error("scheduled campaign not started", { campaign_id: campaign.id, error }),
    );
  }
  return due.length;
}
