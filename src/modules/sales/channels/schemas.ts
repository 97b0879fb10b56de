import { z } from "@hono/zod-openapi";
import { SALES_CHANNEL_TYPES } from "../../../db/schema";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

export const CHANNEL_ID_EXAMPLE = "sch_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
/** A channel id's shape; anything else is no channel of anyone's (404, never sent to the database). */
export const CHANNEL_ID_PATTERN = /^sch_[0-9A-HJKMNP-TV-Z]{26}$/;
// Secrets are single tokens: printable ASCII without spaces.
const TOKEN = /^[\x21-\x7e]+$/;

const secret = (max: number, description: string, example: string) =>
  z.string().trim().min(1).max(max).regex(TOKEN, "printable characters without spaces").openapi({ description, example });

const TelegramChannelBody = z
  .object({
    type: z.literal("telegram").openapi({ description: "A Telegram bot", example: "telegram" }),
    bot_token: z
      .string()
      .trim()
      .regex(/^\d{1,20}:[A-Za-z0-9_-]{1,200}$/, "a bot token as @BotFather gives it: <bot id>:<secret>")
      .openapi({ description: "The bot's token from @BotFather; checked with getMe, then sealed", example: "123456789:AAE3xQ-example-token-from-botfather" }),
  })
  .openapi("ConnectTelegramChannelRequest");

const WhatsAppChannelBody = z
  .object({
    type: z.literal("whatsapp").openapi({ description: "A WhatsApp Cloud API business number", example: "whatsapp" }),
    phone_number_id: z
      .string()
      .trim()
      .regex(/^\d{1,30}$/, "the number's id in WhatsApp Manager (digits)")
      .openapi({ description: "The business number's phone number id", example: "106540352242922" }),
    access_token: secret(2000, "A token that may send as this number (a system user's), sealed", "EAAG-example-access-token"),
    app_secret: secret(200, "The Meta app's secret: checks X-Hub-Signature-256 of this number's webhooks; sealed", "0123456789abcdef0123456789abcdef"),
    verify_token: secret(200, "What you type as the verify token in the app's webhook settings; sealed", "my-verify-token-42"),
  })
  .openapi("ConnectWhatsAppChannelRequest");

export const ConnectChannelBody = z.discriminatedUnion("type", [TelegramChannelBody, WhatsAppChannelBody]).openapi("ConnectChannelRequest");

export const Channel = z
  .object({
    id: z.string().openapi({ description: "Channel id", example: CHANNEL_ID_EXAMPLE }),
    type: z.enum(SALES_CHANNEL_TYPES).openapi({ description: "Telegram bot or WhatsApp number", example: "telegram" }),
    external_id: z.string().openapi({ description: "The bot's id (Telegram) or the phone number id (WhatsApp)", example: "123456789" }),
    display_name: z.string().openapi({ description: "The bot's @username or the phone number id", example: "@acme_shop_bot" }),
    webhook_url: z.string().openapi({
      description: "Where the provider delivers messages (Telegram: already set; WhatsApp: enter it as the app's callback URL)",
      example: `https://api.billx.dev/v1/channels/telegram/${CHANNEL_ID_EXAMPLE}/webhook`,
    }),
    created_at: z.string().openapi({ description: "When it was connected (UTC)", example: "2026-12-04T19:32:00.000Z" }),
  })
  .openapi("SalesChannel");

export const ChannelIdParam = z.object({
  id: pathId("id", "sch", "Channel id", CHANNEL_ID_EXAMPLE),
});

export const WebhookChannelParam = z.object({
  channel_id: pathId("channel_id", "sch", "Channel id", CHANNEL_ID_EXAMPLE),
});

export const ChannelListQuery = pageQuery({ defaultLimit: 50, cursorExample: CHANNEL_ID_EXAMPLE });

export const ChannelList = pageSchema(Channel, "SalesChannelList", {
  data: "Connected channels, newest first",
  nextCursor: "Pass as `cursor` for older channels; null on the last page",
});

export type ConnectChannelInput = z.infer<typeof ConnectChannelBody>;
export type ChannelView = z.infer<typeof Channel>;
