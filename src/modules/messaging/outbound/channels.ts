import type { Config } from "../../../env";
import type { ChannelSender } from "../../../providers/channel";
import { resendEmail } from "../../../providers/resend";
import { telegramBot } from "../../../providers/telegram";
import { twilioSms } from "../../../providers/twilio";
import { whatsappCloud } from "../../../providers/whatsapp";
import type { MessageChannel } from "./types";

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
