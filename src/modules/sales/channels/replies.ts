import type { ServiceCtx } from "../../../lib/context";
import { ProviderError } from "../../../providers/errors";
import { sendChatAction } from "../../../providers/telegram";
import type { QueueJob } from "../../../queues/jobs";
import { type SendInput, sendMessage } from "../../messaging/outbound/service";
import type { SalesTurnResult } from "../chat/service";
import { type SalesChannelRow, salesChannelConfig } from "./credentials";

/** Telegram's and WhatsApp's longest caption: a longer reply goes as text, its image after it. */
const CAPTION_LIMIT = 1024;

/**
 * Sends a turn's reply to the chat through the outbound queue, as the channel's own bot or number:
 * with the stage's image (a public https URL; an R2 key has no URL a provider could fetch, so it
 * is left out) as one captioned photo when the reply fits a caption. The idempotency keys are the
 * inbound message's, so answering it again never sends a second reply. Nothing is sent while staff
 * have the conversation (`reply` is null).
 */
export async function sendReply(ctx: ServiceCtx, channel: SalesChannelRow, chatId: string, updateId: string, result: SalesTurnResult): Promise<void> {
  if (result.reply === null) return;
  const image = result.attachment && /^https:\/\//.test(result.attachment) ? result.attachment : null;
  if (result.attachment && !image)
    ctx.log.info("stage image is not a public URL; reply sent without it", { channel_id: channel.id, attachment: result.attachment });
  const base: SendInput = {
    orgId: channel.orgId,
    channel: channel.type,
    recipient: channel.type === "whatsapp" ? `+${chatId}` : chatId,
    salesChannelId: channel.id,
    entity: { type: "sales_conversation", id: result.conversation_id },
  };
  const reply = result.reply;
  if (image && reply.length <= CAPTION_LIMIT) {
    await sendMessage(ctx, { ...base, ...(reply ? { body: reply } : {}), media: { url: image }, idempotencyKey: `sales:${updateId}:reply` });
    return;
  }
  if (reply) await sendMessage(ctx, { ...base, body: reply, idempotencyKey: `sales:${updateId}:reply` });
  if (image) await sendMessage(ctx, { ...base, media: { url: image }, idempotencyKey: `sales:${updateId}:image` });
}

export interface TypingJob extends QueueJob {
  kind: "sales.typing";
  orgId: string;
  channelId: string;
  chatId: string;
}

/**
 * Shows "typing…" in a Telegram chat while its turn runs, through the outbound queue like every
 * other message. WhatsApp has no typing indicator here: its "mark as read with typing" call is not
 * in our adapter or its fake yet. A failure to queue it never holds the turn up.
 */
export async function sendTyping(ctx: ServiceCtx, channel: SalesChannelRow, chatId: string): Promise<void> {
  if (channel.type !== "telegram") return;
  const job: TypingJob = { kind: "sales.typing", orgId: channel.orgId, channelId: channel.id, chatId };
  try {
    await ctx.env.OUTBOUND.send(job);
  } catch (error) {
    ctx.log.warn("typing indicator not queued", { channel_id: channel.id, error: error instanceof Error ? error.message : String(error) });
  }
}

/**
 * The outbound consumer's handler for `sales.typing`: one sendChatAction with the channel's bot.
 * Never retried: "typing" a while later would be wrong, and the reply clears it anyway.
 */
export async function deliverTyping(ctx: ServiceCtx, job: QueueJob): Promise<void> {
  const { orgId, channelId, chatId } = job as TypingJob;
  try {
    await sendChatAction(await salesChannelConfig(ctx, String(orgId), String(channelId)), String(chatId), "typing");
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    ctx.log.info("typing indicator not shown", { channel_id: channelId, error: error.message });
  }
}
