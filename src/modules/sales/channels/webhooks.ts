import { createRoute, z } from "@hono/zod-openapi";
import type { ServiceCtx } from "../../../lib/context";
import { sha256Hex, timingSafeEqual } from "../../../lib/crypto";
import { BadRequest, Forbidden } from "../../../lib/errors";
import { createRouter, problemResponses } from "../../../lib/openapi";
import { verifyHubSignature256 } from "../../../lib/signatures";
import { applyWhatsAppStatuses } from "../../messaging/outbound/status";
import type { SalesChannelRow } from "./credentials";
import { answerChat, type InboundMessage, receiveMessages } from "./inbound";
import { WebhookChannelParam } from "./schemas";
import { liveChannel } from "./service";

const tags = ["Webhooks"];

const telegramWebhookRoute = createRoute({
  method: "post",
  path: "/v1/channels/telegram/{channel_id}/webhook",
  tags,
  summary: "Telegram updates of a connected bot (X-Telegram-Bot-Api-Secret-Token)",
  description:
    "Telegram posts each Update here. The secret token set with setWebhook must match, else 403 and nothing is stored. Answered at once; " +
    "a text message is answered by the sales chat afterwards, one message of a chat at a time. A repeated update_id is answered once.",
  request: { params: WebhookChannelParam },
  responses: { 200: { description: "Received" }, ...problemResponses },
});

const whatsappVerifyRoute = createRoute({
  method: "get",
  path: "/v1/channels/whatsapp/{channel_id}/webhook",
  tags,
  summary: "WhatsApp webhook subscription check of a connected number (hub.challenge)",
  request: {
    params: WebhookChannelParam,
    query: z.object({
      "hub.mode": z.string().max(100).openapi({ description: "Always subscribe", example: "subscribe" }),
      "hub.verify_token": z.string().max(500).openapi({ description: "The channel's verify token", example: "my-verify-token-42" }),
      "hub.challenge": z.string().max(500).openapi({ description: "Echoed back on success", example: "1158201444" }),
    }),
  },
  responses: { 200: { description: "The challenge, as text", content: { "text/plain": { schema: z.string() } } }, ...problemResponses },
});

const whatsappEventsRoute = createRoute({
  method: "post",
  path: "/v1/channels/whatsapp/{channel_id}/webhook",
  tags,
  summary: "WhatsApp Cloud API webhook of a connected number (X-Hub-Signature-256)",
  description:
    "Signed with the channel's app secret (wrong: 403, nothing stored). Inbound text messages are answered by the sales chat afterwards; " +
    "delivery statuses of the bot's replies update their messages. A repeated message id is answered once.",
  request: { params: WebhookChannelParam },
  responses: { 200: { description: "Received" }, ...problemResponses },
});

/** The parts of a Telegram Update the chat reads. */
const TelegramUpdate = z.object({
  update_id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  message: z.object({ chat: z.object({ id: z.number().int() }), text: z.string().optional() }).optional(),
});

const WhatsAppTextMessage = z.object({
  from: z.string().regex(/^\d{6,15}$/),
  id: z.string().min(1).max(200),
  timestamp: z.string().regex(/^\d{1,12}$/),
  type: z.literal("text"),
  text: z.object({ body: z.string() }),
});

/** The parts of a WhatsApp messages webhook the chat reads (statuses are applied by the messaging module). */
const WhatsAppMessages = z.object({
  entry: z
    .array(
      z.object({
        changes: z
          .array(
            z.object({
              value: z
                .object({
                  metadata: z.object({ phone_number_id: z.string() }).optional(),
                  // Each message is read on its own: one we cannot read does not lose the others.
                  messages: z.array(z.unknown()).optional(),
                })
                .optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
});

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new BadRequest("The body is not JSON");
  }
}

/** Equal secrets, compared in constant time (by their digests, so not even the length shows). */
async function sameSecret(given: string | undefined, expected: string): Promise<boolean> {
  return timingSafeEqual(await sha256Hex(given ?? ""), await sha256Hex(expected));
}

/** Stores the messages and answers their chats after the response: the provider gets its 200 at once. */
async function receiveAndAnswerLater(ctx: ServiceCtx, channel: SalesChannelRow, messages: InboundMessage[]): Promise<void> {
  const chats = await receiveMessages(ctx, channel, messages);
  for (const chatId of chats) {
    ctx.waitUntil(
      answerChat(ctx, channel.id, chatId).catch((error: unknown) => {
        ctx.log.error("channel chat not answered", { channel_id: channel.id, error: error instanceof Error ? error.message : String(error) });
      }),
    );
  }
}

function whatsappTextMessages(channel: SalesChannelRow, body: unknown): InboundMessage[] {
  const parsed = WhatsAppMessages.safeParse(body);
  if (!parsed.success) return [];
  const found: InboundMessage[] = [];
  for (const entry of parsed.data.entry ?? []) {
    for (const change of entry.changes ?? []) {
      // One Meta app may deliver several numbers' events to one URL: only this channel's number is ours.
      if (change.value?.metadata?.phone_number_id !== channel.externalId) continue;
      for (const item of change.value.messages ?? []) {
        // Images, audio, reactions and the like need no answer from the sales chat.
        const message = WhatsAppTextMessage.safeParse(item);
        if (!message.success) continue;
        const { id, from, timestamp, text } = message.data;
        found.push({ externalId: id, chatId: from, position: Number(timestamp), text: text.body });
      }
    }
  }
  return found;
}

export const salesChannelWebhookRoutes = createRouter()
  .openapi(telegramWebhookRoute, async (c) => {
    const ctx = c.var.ctx;
    const { row, credentials } = await liveChannel(ctx, "telegram", c.req.valid("param").channel_id);
    if (!(await sameSecret(c.req.header("X-Telegram-Bot-Api-Secret-Token"), credentials.secret_token))) {
      throw new Forbidden("Invalid X-Telegram-Bot-Api-Secret-Token");
    }
    const update = TelegramUpdate.safeParse(parseJson(await c.req.text()));
    if (!update.success) throw new BadRequest("Not a Telegram update");
    const message = update.data.message;
    // Other updates (edits, photos, stickers) need no answer; Telegram must not resend them.
    if (message?.text) {
      await receiveAndAnswerLater(ctx, row, [
        { externalId: String(update.data.update_id), chatId: String(message.chat.id), position: update.data.update_id, text: message.text },
      ]);
    }
    return c.json({ ok: true }, 200);
  })
  .openapi(whatsappVerifyRoute, async (c) => {
    const { credentials } = await liveChannel(c.var.ctx, "whatsapp", c.req.valid("param").channel_id);
    const query = c.req.valid("query");
    if (query["hub.mode"] !== "subscribe" || !(await sameSecret(query["hub.verify_token"], credentials.verify_token))) {
      throw new Forbidden("The verify token does not match");
    }
    return c.text(query["hub.challenge"], 200);
  })
  .openapi(whatsappEventsRoute, async (c) => {
    const ctx = c.var.ctx;
    const { row, credentials } = await liveChannel(ctx, "whatsapp", c.req.valid("param").channel_id);
    const raw = await c.req.text();
    if (!(await verifyHubSignature256(credentials.app_secret, raw, c.req.header("X-Hub-Signature-256")))) throw new Forbidden("Invalid X-Hub-Signature-256");
    const body = parseJson(raw);
    await applyWhatsAppStatuses(ctx, body as Parameters<typeof applyWhatsAppStatuses>[1], { phoneNumberId: row.externalId, salesChannelId: row.id });
    await receiveAndAnswerLater(ctx, row, whatsappTextMessages(row, body));
    return c.json({ ok: true }, 200);
  });
