import { E164 } from "../../../lib/phone";
import type { MessageChannel } from "./types";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// A Telegram chat id: a user or group id (groups are negative), or a public @channelusername.
const TELEGRAM_CHAT = /^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$/;

/** Why `recipient` cannot receive on `channel`, or null when it can. */
export function recipientProblem(channel: MessageChannel, recipient: string): string | null {
  switch (channel) {
    case "sms":
    case "whatsapp":
      return E164.test(recipient) ? null : "must be a phone number in E.164 form, e.g. +14155550100";
    case "email":
      return EMAIL.test(recipient) && recipient.length <= 254 ? null : "must be an email address";
    case "telegram":
      return TELEGRAM_CHAT.test(recipient) ? null : "must be a Telegram chat id or @channel";
  }
}
