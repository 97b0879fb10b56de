import type { Config } from "../../../env";
import type { ServiceCtx } from "../../../lib/context";
import type { ChannelSender } from "../../../providers/channel";
import { resendEmail } from "../../../providers/resend";
import { telegramBot } from "../../../providers/telegram";
import { twilioSms } from "../../../providers/twilio";
import { whatsappCloud } from "../../../providers/whatsapp";
import { salesChannelConfig } from "../../sales/channels/credentials";
import type { MessageChannel, MessageRow } from "./types";

/** The adapter that delivers each channel; each is configured from env and fails without its keys. */
const senders: Partial<Record<MessageChannel, (config: Config) => ChannelSender>> = {
  telegram: telegramBot,
  email: resendEmail,
  sms: twilioSms,
  whatsapp: whatsappCloud,
};

export function senderFor(channel: MessageChannel, config: Config): ChannelSender | undefined {
  return senders[channel]?.(config);
}

/**
 * The adapter for one message: a sales channel's reply goes out with that channel's own bot token
 * or number (opened only here, for this send), everything else with the platform's configuration.
 */
export async function senderForMessage(ctx: ServiceCtx, message: MessageRow): Promise<ChannelSender | undefined> {
  const config = message.salesChannelId ? await salesChannelConfig(ctx, message.orgId, message.salesChannelId) : ctx.config;
  return senderFor(message.channel as MessageChannel, config);
}
