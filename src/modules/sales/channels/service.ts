import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { isUniqueViolation } from "../../../db/errors";
import { type SalesChannelType, salesChannels } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { randomToken } from "../../../lib/crypto";
import { BadGateway, Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { ProviderError } from "../../../providers/errors";
import { deleteWebhook, getMe, setWebhook, withBotToken } from "../../../providers/telegram";
import { getPhoneNumber, withWhatsAppNumber } from "../../../providers/whatsapp";
import { requirePublicBaseUrl } from "../../calls/voice-webhooks/public-url";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { type ChannelCredentials, keyRing, openCredentials, type SalesChannelRow, sealCredentials } from "./credentials";
import { CHANNEL_ID_PATTERN, type ChannelView, type ConnectChannelInput } from "./schemas";

/** The updates a sales bot needs: messages people write to it. */
const TELEGRAM_UPDATES = ["message"];

/** Where the provider delivers a channel's messages, below the API's public base URL. */
export function webhookPath(type: SalesChannelType, channelId: string): string {
  return `/v1/channels/${type}/${channelId}/webhook`;
}

function view(ctx: ServiceCtx, row: SalesChannelRow): ChannelView {
  return {
    id: row.id,
    type: row.type,
    external_id: row.externalId,
    display_name: row.displayName,
    webhook_url: `${ctx.config.publicApiUrl?.replace(/\/+$/, "") ?? ""}${webhookPath(row.type, row.id)}`,
    created_at: row.createdAt.toISOString(),
  };
}

/** What a provider refusal of the owner's credentials means to them: their input was wrong (422), or the provider is down (502). */
function credentialProblem(error: unknown, field: string, provider: string): never {
  if (!(error instanceof ProviderError)) throw error;
  if (error.status === 401 || error.status === 404) throw new Unprocessable([{ path: field, message: `${provider} refused this token` }]);
  if (error.status === 400 && field === "phone_number_id") {
    throw new Unprocessable([{ path: field, message: "WhatsApp knows no such number for this access token" }]);
  }
  throw new BadGateway(`${provider} could not be reached to connect the channel: ${error.message}${error.retryable ? "; try again" : ""}`);
}

/**
 * Connects a Telegram bot (its token checked with getMe, then the bot's webhook pointed at us with
 * a fresh secret token) or a WhatsApp Cloud API number. The credentials are sealed to the new row;
 * a bot or number already connected (here or in another organisation) is a 409, since one webhook
 * would steal the other's messages.
 */
export async function connectChannel(ctx: ServiceCtx, input: ConnectChannelInput): Promise<ChannelView> {
  assertCan(ctx, "channels:write");
  const orgId = requireOrgId(ctx);
  keyRing(ctx);
  const base = requirePublicBaseUrl(ctx);
  const id = newId("sch");

  let externalId: string;
  let displayName: string;
  let credentials: ChannelCredentials;
  if (input.type === "telegram") {
    const bot = await getMe(withBotToken(ctx.config, input.bot_token)).catch((error) => credentialProblem(error, "bot_token", "Telegram"));
    externalId = String(bot.id);
    displayName = `@${bot.username}`;
    credentials = { type: "telegram", bot_token: input.bot_token, secret_token: randomToken(32) };
  } else {
    externalId = input.phone_number_id;
    // Before asking Meta: a number connected already is refused however its token looks.
    await refuseConnectedNumber(ctx, externalId);
    const number = await getPhoneNumber(withWhatsAppNumber(ctx.config, externalId, input.access_token)).catch((error) =>
      credentialProblem(error, error instanceof ProviderError && error.status === 400 && error.code === "100" ? "phone_number_id" : "access_token", "WhatsApp"),
    );
    displayName = number.displayPhoneNumber;
    credentials = { type: "whatsapp", access_token: input.access_token, app_secret: input.app_secret, verify_token: input.verify_token };
  }

  const { sealed, keyId } = await sealCredentials(ctx, orgId, id, credentials);
  let row: SalesChannelRow | undefined;
  try {
    [row] = await ctx.db
      .insert(salesChannels)
      .values({
        id,
        orgId,
        type: input.type,
        externalId,
        displayName,
        credentialsSealed: sealed,
        keyId,
        createdBy: ctx.actor?.userId ?? null,
        createdAt: ctx.now(),
      })
      .returning();
  } catch (error) {
    if (isUniqueViolation(error)) throw new Conflict(`This ${input.type === "telegram" ? "bot" : "number"} is already connected; disconnect it first`);
    throw error;
  }
  if (!row) throw new Error("channel insert returned no row");

  if (credentials.type === "telegram") {
    // After the row exists, so the first update finds its channel; undone if Telegram refuses.
    try {
      await setWebhook(withBotToken(ctx.config, credentials.bot_token), `${base}${webhookPath("telegram", id)}`, credentials.secret_token, TELEGRAM_UPDATES);
    } catch (error) {
      await ctx.db.delete(salesChannels).where(eq(salesChannels.id, id));
      credentialProblem(error, "bot_token", "Telegram");
    }
  }
  await recordAudit(ctx, {
    orgId,
    action: "sales_channel.connected",
    targetType: "sales_channel",
    targetId: id,
    metadata: { type: input.type, external_id: externalId },
  });
  return view(ctx, row);
}

async function refuseConnectedNumber(ctx: ServiceCtx, phoneNumberId: string): Promise<void> {
  const [live] = await ctx.db
    .select({ id: salesChannels.id })
    .from(salesChannels)
    .where(and(eq(salesChannels.type, "whatsapp"), eq(salesChannels.externalId, phoneNumberId), isNull(salesChannels.disconnectedAt)));
  if (live) throw new Conflict("This number is already connected; disconnect it first");
}

/** A connected channel of the active organisation; 404 for any other (or a disconnected one). */
async function getChannelRow(ctx: ServiceCtx, id: string): Promise<SalesChannelRow> {
  const orgId = requireOrgId(ctx);
  if (!CHANNEL_ID_PATTERN.test(id)) throw new NotFound("channel", id);
  const [row] = await ctx.db
    .select()
    .from(salesChannels)
    .where(and(eq(salesChannels.id, id), eq(salesChannels.orgId, orgId), isNull(salesChannels.disconnectedAt)));
  if (!row) throw new NotFound("channel", id);
  return row;
}

export async function getChannel(ctx: ServiceCtx, id: string): Promise<ChannelView> {
  assertCan(ctx, "channels:read");
  return view(ctx, await getChannelRow(ctx, id));
}

/** The organisation's connected channels, newest first. */
export async function listChannels(ctx: ServiceCtx, query: PageRequest): Promise<Page<ChannelView>> {
  assertCan(ctx, "channels:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(salesChannels)
    .where(and(eq(salesChannels.orgId, orgId), isNull(salesChannels.disconnectedAt), query.cursor ? lt(salesChannels.id, query.cursor) : undefined))
    .orderBy(desc(salesChannels.id))
    .limit(query.limit + 1);
  return toPage(
    rows,
    query.limit,
    (r) => r.id,
    (r) => view(ctx, r),
  );
}

/**
 * Disconnects a channel: Telegram stops delivering (deleteWebhook; a token revoked meanwhile
 * does not keep the channel connected), the credentials are dropped, and from now on its webhook
 * answers 404, its waiting messages are skipped and its queued replies fail.
 */
export async function disconnectChannel(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "channels:write");
  const row = await getChannelRow(ctx, id);
  const credentials = await openCredentials(ctx, row);
  if (credentials?.type === "telegram") {
    await deleteWebhook(withBotToken(ctx.config, credentials.bot_token)).catch((error: unknown) => {
      if (!(error instanceof ProviderError) || error.retryable)
        throw error instanceof ProviderError ? new BadGateway(`Telegram could not be reached: ${error.message}`) : error;
      ctx.log.warn("deleteWebhook refused; disconnecting anyway", { channel_id: id, error: error.message });
    });
  }
  const [gone] = await ctx.db
    .update(salesChannels)
    .set({ disconnectedAt: ctx.now(), credentialsSealed: null, keyId: null })
    .where(and(eq(salesChannels.id, id), eq(salesChannels.orgId, row.orgId), isNull(salesChannels.disconnectedAt)))
    .returning({ id: salesChannels.id });
  if (!gone) throw new NotFound("channel", id);
  await recordAudit(ctx, { orgId: row.orgId, action: "sales_channel.disconnected", targetType: "sales_channel", targetId: id, metadata: { type: row.type } });
}

/** The connected channel a webhook names, with its credentials; 404 for an unknown or disconnected one. */
export async function liveChannel<T extends SalesChannelType>(
  ctx: ServiceCtx,
  type: T,
  id: string,
): Promise<{ row: SalesChannelRow; credentials: Extract<ChannelCredentials, { type: T }> }> {
  if (!CHANNEL_ID_PATTERN.test(id)) throw new NotFound("channel", id);
  const [row] = await ctx.db
    .select()
    .from(salesChannels)
    .where(and(eq(salesChannels.id, id), eq(salesChannels.type, type), isNull(salesChannels.disconnectedAt)));
  const credentials = row ? await openCredentials(ctx, row as SalesChannelRow & { type: T }) : null;
  if (!row || !credentials) throw new NotFound("channel", id);
  return { row, credentials };
}
