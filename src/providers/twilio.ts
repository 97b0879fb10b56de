import { z } from "zod";
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import type { ChannelSender, OutgoingMessage, SentMessage } from "./channel";
import { ProviderError } from "./errors";
import { providerFetch } from "./http";

/** Twilio's REST error body, e.g. `{code: 21211, message: "The 'To' number ... is not a valid phone number.", more_info, status: 400}`. */
const TwilioErrorBody = z.object({
  code: z.number().optional(),
  message: z.string().optional(),
  more_info: z.string().optional(),
  status: z.number().optional(),
});

/** The part of Twilio's Message resource we keep: `sid` is `SM…` for SMS, `MM…` for MMS. */
const TwilioMessage = z.object({ sid: z.string().regex(/^(SM|MM)[0-9a-f]{32}$/) });

export function describeTwilioError(body: unknown, status: number): { message: string; code?: string } {
  const parsed = TwilioErrorBody.safeParse(body);
  if (!parsed.success || !parsed.data.message) return { message: `HTTP ${status}` };
  const { code, message } = parsed.data;
  return code === undefined ? { message } : { message: `${message} (Twilio error ${code})`, code: String(code) };
}

/**
 * Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * form-encoded, HTTP Basic auth with the Account SID and auth token. With `PUBLIC_API_URL` set,
 * Twilio reports delivery to our message-status webhook. Without `TWILIO_ACCOUNT_SID`,
 * `TWILIO_AUTH_TOKEN` or `TWILIO_FROM_NUMBER` a send raises `ProviderUnavailable` naming the first
 * one missing.
 */
export function twilioSms(config: Config): ChannelSender {
  return {
    async send(message: OutgoingMessage): Promise<SentMessage> {
      const { accountSid, authToken, fromNumber, baseUrl } = config.twilio;
      if (!accountSid) throw new ProviderUnavailable("TWILIO_ACCOUNT_SID");
      if (!authToken) throw new ProviderUnavailable("TWILIO_AUTH_TOKEN");
      if (!fromNumber) throw new ProviderUnavailable("TWILIO_FROM_NUMBER");

      const form = new URLSearchParams({ To: message.recipient, From: fromNumber });
      // Without a body or a media URL Twilio answers 21602; that refusal lands in last_error.
      if (message.body !== null) form.set("Body", message.body);
      if (message.media?.url) form.set("MediaUrl", message.media.url);
      if (config.publicApiUrl) form.set("StatusCallback", `${config.publicApiUrl.replace(/\/+$/, "")}/v1/webhooks/twilio/message-status`);

      const response = await providerFetch(
        "twilio",
        `${baseUrl.replace(/\/+$/, "")}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`,
        {
          method: "POST",
          headers: {
            authorization: `Basic ${btoa(`${accountSid}:${authToken}`)}`,
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
          },
          body: form.toString(),
        },
        describeTwilioError,
      );
      const parsed = TwilioMessage.safeParse(await response.json().catch(() => undefined));
      // Twilio has no idempotency key for Messages: a 2xx means it accepted the message, and
      // sending again would text the person twice, so an unreadable reply is not retried.
      if (!parsed.success) throw new ProviderError("twilio", response.status, "bad_reply", false, "accepted, but the reply carried no message sid");
      return { providerMessageId: parsed.data.sid };
    },
  };
}
