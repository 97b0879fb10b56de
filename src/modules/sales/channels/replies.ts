import { and, eq } from "drizzle-orm";
import { salesChannelChats, salesChannels } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { ProviderError } from "../../../providers/errors";
import { sendChatAction } from "../../../providers/telegram";
import { markReadWithTyping } from "../../../providers/whatsapp";
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

/**
 * A staff member's reply in a conversation that is a Telegram or WhatsApp chat goes to that chat,
 * through the queue as the channel's bot or number (a web conversation's visitor reads it from the
 * API). A channel disconnected since is logged, not an error: the reply is kept in the conversation.
 */
export async function relayStaffReply(ctx: ServiceCtx, conversation: { id: string; orgId: string; channel: string }, content: string): Promise<void> {
  if (conversation.channel === "web") return;
  const [chat] = await ctx.db
    .select({ channel: salesChannels, chatId: salesChannelChats.chatId })
    .from(salesChannelChats)
    .innerJoin(salesChannels, eq(salesChannels.id, salesChannelChats.channelId))
    .where(and(eq(salesChannelChats.orgId, conversation.orgId), eq(salesChannelChats.conversationId, conversation.id)));
  if (!chat || chat.channel.disconnectedAt) {
    ctx.log.info("staff reply kept, but its chat's channel is gone", { conversation_id: conversation.id });
    return;
  }
  await sendMessage(ctx, {
    orgId: conversation.orgId,
    channel: chat.channel.type,
    recipient: chat.channel.type === "whatsapp" ? `+${chat.chatId}` : chat.chatId,
    body: content,
    salesChannelId: chat.channel.id,
    entity: { type: "sales_conversation", id: conversation.id },
  });
}

export interface TypingJob extends QueueJob {
  kind: "sales.typing";
  orgId: string;
  channelId: string;
  type: SalesChannelRow["type"];
  chatId: string;
  /** The inbound message being answered: WhatsApp's typing indicator marks it read. */
  inboundMessageId: string;
}

/**
 * Shows "typing…" in the chat while its turn runs (Telegram's sendChatAction; WhatsApp's read
 * receipt with a typing indicator), through the outbound queue like every other message. A
 * failure to queue it never holds the turn up.
 */
export async function sendTyping(ctx: ServiceCtx, channel: SalesChannelRow, chatId: string, inboundMessageId: string): Promise<void> {
  const job: TypingJob = { kind: "sales.typing", orgId: channel.orgId, channelId: channel.id, type: channel.type, chatId, inboundMessageId };
  try {
    await ctx.env.OUTBOUND.send(job);
  } catch (error) {
    ctx.log.warn("typing indicator not queued", { channel_id: channel.id, error: error instanceof Error ? error.message : String(error) });
  }
}

/**
 * The outbound consumer's handler for `sales.typing`, with the channel's own bot or number.
 * Never retried: "typing" a while later would be wrong, and the reply clears it anyway.
 */
export async function deliverTyping(ctx: ServiceCtx, job: QueueJob): Promise<void> {
  const typing = job as TypingJob;
  try {
    const config = await salesChannelConfig(ctx, String(typing.orgId), String(typing.channelId));
    if (typing.type === "whatsapp") await markReadWithTyping(config, String(typing.inboundMessageId));
    else await sendChatAction(config, String(typing.chatId), "typing");
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    ctx.log.info("typing indicator not shown", { channel_id: typing.channelId, error: error.message });
  }
}
