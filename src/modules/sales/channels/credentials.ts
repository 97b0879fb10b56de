import { and, eq } from "drizzle-orm";
import { salesChannels } from "../../../db/schema";
import type { Config } from "../../../env";
import type { ServiceCtx } from "../../../lib/context";
import { ProviderUnavailable } from "../../../lib/errors";
import { type KeyRing, open, seal } from "../../../lib/secret-box";
import { ProviderError } from "../../../providers/errors";
import { withBotToken } from "../../../providers/telegram";
import { withWhatsAppNumber } from "../../../providers/whatsapp";

export type SalesChannelRow = typeof salesChannels.$inferSelect;

/** A Telegram bot's token and the secret Telegram echoes in `X-Telegram-Bot-Api-Secret-Token`. */
export interface TelegramCredentials {
  type: "telegram";
  bot_token: string;
  secret_token: string;
}

/** A WhatsApp Cloud API number's token, the Meta app secret that signs its webhooks, and the verify token of the handshake. */
export interface WhatsAppCredentials {
  type: "whatsapp";
  access_token: string;
  app_secret: string;
  verify_token: string;
}

export type ChannelCredentials = TelegramCredentials | WhatsAppCredentials;

export function keyRing(ctx: ServiceCtx): KeyRing {
  if (!ctx.config.dataEncryption) throw new ProviderUnavailable("DATA_ENCRYPTION_KEYS");
  return ctx.config.dataEncryption;
}

/** What the sealed credentials are bound to: they open only for the row they were sealed for. */
function sealContext(orgId: string, channelId: string): string {
  return `sales_channel:${orgId}:${channelId}`;
}

export function sealCredentials(
  ctx: ServiceCtx,
  orgId: string,
  channelId: string,
  credentials: ChannelCredentials,
): Promise<{ sealed: string; keyId: string }> {
  return seal(keyRing(ctx), JSON.stringify(credentials), sealContext(orgId, channelId));
}

/** The channel's credentials, or null once it was disconnected (they are dropped then). */
export async function openCredentials<T extends ChannelCredentials["type"]>(
  ctx: ServiceCtx,
  row: SalesChannelRow & { type: T },
): Promise<Extract<ChannelCredentials, { type: T }> | null> {
  if (!row.credentialsSealed || row.disconnectedAt) return null;
  const credentials = JSON.parse(await open(keyRing(ctx), row.credentialsSealed, sealContext(row.orgId, row.id))) as ChannelCredentials;
  return credentials.type === row.type ? (credentials as Extract<ChannelCredentials, { type: T }>) : null;
}

/** The provider configuration that sends as this channel's bot or number. */
export function configFor(config: Config, row: SalesChannelRow, credentials: ChannelCredentials): Config {
  return credentials.type === "telegram" ? withBotToken(config, credentials.bot_token) : withWhatsAppNumber(config, row.externalId, credentials.access_token);
}

/**
 * The configuration the outbound consumer sends a sales channel's message with. A channel that
 * was disconnected (or is not the message's organisation's) refuses for good: its replies must
 * never fall back to the platform's own bot or number.
 */
export async function salesChannelConfig(ctx: ServiceCtx, orgId: string | null, channelId: string): Promise<Config> {
  const [row] = await ctx.db
    .select()
    .from(salesChannels)
    .where(and(eq(salesChannels.id, channelId), eq(salesChannels.orgId, orgId ?? "")));
  const credentials = row ? await openCredentials(ctx, row) : null;
  if (!row || !credentials)
    throw new ProviderError(row?.type ?? "channel", undefined, "channel_disconnected", false, `sales channel ${channelId} is disconnected`);
  return configFor(ctx.config, row, credentials);
}
