/**
 * What every messaging channel adapter (Twilio SMS, WhatsApp Cloud API, Telegram Bot API,
 * Resend email) implements. An adapter throws `ProviderUnavailable(variable)` when its
 * credentials are missing, and `ProviderError` (with `retryable`) when the provider refuses or
 * cannot be reached; the messaging consumer turns those into message statuses.
 */
export interface OutgoingMessage {
  /** Our message id; adapters that support an idempotency key send it. */
  id: string;
  recipient: string;
  subject: string | null;
  body: string | null;
  template: string | null;
  variables: Record<string, string> | null;
  media: { url?: string; r2Key?: string; contentType?: string } | null;
  /** Files sent with an email (the consumer reads `media.r2Key` from R2 for it); other channels ignore them. */
  attachments?: { filename: string; content: Uint8Array }[];
}

export interface SentMessage {
  /** The provider's id for the message: Twilio's SM…, WhatsApp's wamid…, Telegram's message_id, Resend's id. */
  providerMessageId: string;
}

export interface ChannelSender {
  send(message: OutgoingMessage): Promise<SentMessage>;
}
