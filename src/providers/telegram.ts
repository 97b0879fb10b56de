import { z } from "zod";
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import type { ChannelSender, OutgoingMessage, SentMessage } from "./channel";
import { ProviderError } from "./errors";
import { providerFetch } from "./http";

/** What the Bot API answers on failure; `parameters.retry_after` comes with 429 flood control. */
const TelegramErrorBody = z.object({
  ok: z.literal(false),
  error_code: z.number().optional(),
  description: z.string().optional(),
  parameters: z.object({ retry_after: z.number().optional(), migrate_to_chat_id: z.number().optional() }).optional(),
});

const SentTelegramMessage = z.object({
  ok: z.literal(true),
  result: z.object({ message_id: z.number(), chat: z.object({ id: z.number() }), date: z.number() }),
});

const TrueResult = z.object({ ok: z.literal(true), result: z.literal(true) });

const BotUser = z.object({
  ok: z.literal(true),
  result: z.object({ id: z.number(), is_bot: z.literal(true), username: z.string().min(1), first_name: z.string() }),
});

/** The bot a token belongs to, as `getMe` tells it. */
export interface TelegramBot {
  id: number;
  username: string;
  firstName: string;
}

/** The actions `sendChatAction` accepts; the chat work uses `typing`. */
export type TelegramChatAction =
  | "typing"
  | "upload_photo"
  | "record_video"
  | "upload_video"
  | "record_voice"
  | "upload_voice"
  | "upload_document"
  | "choose_sticker"
  | "find_location";

/**
 * One Bot API method call. The bot token sits in the URL path (`/bot<token>/<method>`), so it is
 * scrubbed from every error message: those end up in logs and in `messages.last_error`.
 */
async function callBotApi(config: Config, method: string, payload: Record<string, unknown>): Promise<unknown> {
  const token = config.telegram.botToken;
  if (!token) throw new ProviderUnavailable("TELEGRAM_BOT_TOKEN");
  // Telegram reports flood control in the body, not in a Retry-After header.
  let retryAfter: number | undefined;
  try {
    const response = await providerFetch(
      "telegram",
      `${config.telegram.baseUrl.replace(/\/+$/, "")}/bot${token}/${method}`,
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) },
      (body, status) => {
        const parsed = TelegramErrorBody.safeParse(body);
        if (!parsed.success) return { message: `HTTP ${status}` };
        retryAfter = parsed.data.parameters?.retry_after;
        return { message: parsed.data.description ?? `HTTP ${status}`, code: String(parsed.data.error_code ?? status) };
      },
    );
    return await response.json().catch(() => undefined);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    const message = error.message.replace(/^telegram: /, "").replaceAll(token, "<token>");
    throw new ProviderError("telegram", error.status, error.code, error.retryable, message, error.retryAfterSeconds ?? retryAfter);
  }
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/**
 * Message text for Telegram: the body as is, or, with a subject, the subject in bold above the
 * body. Bold needs `parse_mode: "HTML"`, and then every `<`, `>` and `&` of ours must be escaped
 * or Telegram refuses the message ("can't parse entities").
 */
function formatText(message: OutgoingMessage, body: string): { text: string; parse_mode?: "HTML" } {
  if (!message.subject) return { text: body };
  return { text: `<b>${escapeHtml(message.subject)}</b>\n${escapeHtml(body)}`, parse_mode: "HTML" };
}

/**
 * Telegram Bot API (`sendMessage`, or `sendPhoto` when the message has a media URL). The recipient
 * is a chat id or `@channelusername`. Without `TELEGRAM_BOT_TOKEN` every send raises
 * `ProviderUnavailable("TELEGRAM_BOT_TOKEN")`.
 */
export function telegramBot(config: Config): ChannelSender {
  return {
    async send(message: OutgoingMessage): Promise<SentMessage> {
      if (!config.telegram.botToken) throw new ProviderUnavailable("TELEGRAM_BOT_TOKEN");
      // A photo may go without a caption; a text message needs its text.
      if (message.body === null && !message.media?.url) {
        throw new ProviderError("telegram", undefined, "no_body", false, "a Telegram message needs a body; templates are not supported on Telegram");
      }
      const formatted = formatText(message, message.body ?? "");
      const reply = message.media?.url
        ? await callBotApi(config, "sendPhoto", {
            chat_id: message.recipient,
            photo: message.media.url,
            ...(formatted.text ? { caption: formatted.text } : {}),
            ...(formatted.parse_mode ? { parse_mode: formatted.parse_mode } : {}),
          })
        : await callBotApi(config, "sendMessage", { chat_id: message.recipient, ...formatted });
      const parsed = SentTelegramMessage.safeParse(reply);
      // Telegram has no idempotency key: a 200 means it was sent, and sending again would duplicate it.
      if (!parsed.success) throw new ProviderError("telegram", 200, "bad_reply", false, "sent, but the reply carried no message_id");
      // message_id is only unique within its chat.
      return { providerMessageId: `${parsed.data.result.chat.id}:${parsed.data.result.message_id}` };
    },
  };
}

/**
 * Shows "typing…" (or another action) in a chat for about five seconds, or until the bot's next
 * message arrives. Used while the sales agent composes a reply.
 */
export async function sendChatAction(config: Config, chatId: string, action: TelegramChatAction): Promise<void> {
  const reply = await callBotApi(config, "sendChatAction", { chat_id: chatId, action });
  if (!TrueResult.safeParse(reply).success) throw new ProviderError("telegram", 200, "bad_reply", true, "unexpected reply to sendChatAction");
}

/** Who the configured token belongs to (`getMe`): a revoked or mistyped token is a 401 `ProviderError`. */
export async function getMe(config: Config): Promise<TelegramBot> {
  const parsed = BotUser.safeParse(await callBotApi(config, "getMe", {}));
  if (!parsed.success) throw new ProviderError("telegram", 200, "bad_reply", true, "getMe did not describe a bot");
  return { id: parsed.data.result.id, username: parsed.data.result.username, firstName: parsed.data.result.first_name };
}

/**
 * Points the bot's updates at `url`; Telegram then sends `secretToken` in the
 * `X-Telegram-Bot-Api-Secret-Token` header of every update, which is how the webhook knows them.
 */
export async function setWebhook(config: Config, url: string, secretToken: string, allowedUpdates: string[]): Promise<void> {
  const reply = await callBotApi(config, "setWebhook", { url, secret_token: secretToken, allowed_updates: allowedUpdates });
  if (!TrueResult.safeParse(reply).success) throw new ProviderError("telegram", 200, "bad_reply", true, "unexpected reply to setWebhook");
}

/** Stops the bot's updates reaching any webhook. */
export async function deleteWebhook(config: Config): Promise<void> {
  const reply = await callBotApi(config, "deleteWebhook", {});
  if (!TrueResult.safeParse(reply).success) throw new ProviderError("telegram", 200, "bad_reply", true, "unexpected reply to deleteWebhook");
}

/** `config` with another bot's token: a sales channel's bot speaks through the same adapter. */
export function withBotToken(config: Config, botToken: string): Config {
  return { ...config, telegram: { ...config.telegram, botToken } };
}
