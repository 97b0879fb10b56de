/**
 * Email through Resend's HTTP API (https://resend.com/docs/api-reference/emails/send-email).
 *
 * Why Resend: one plain JSON `POST /emails` that a Worker can call with `fetch` (no SMTP socket,
 * no SDK), and an `Idempotency-Key` header that makes a resend of the same key within 24 hours
 * return the first reply instead of sending again. Our message id is that key, so a retry after
 * a timeout — when we cannot know whether the first request got through — never mails twice.
 */
import { z } from "zod";
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import type { ChannelSender, OutgoingMessage, SentMessage } from "./channel";
import { ProviderError } from "./errors";
import { providerFetch } from "./http";

const ResendErrorBody = z.object({ statusCode: z.number().optional(), name: z.string(), message: z.string() });
const SentEmail = z.object({ id: z.string().min(1) });

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

// Resend takes attachment content as base64; built in chunks so a large PDF does not overflow the argument list.
function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The plain-text body as minimal HTML: escaped, line breaks kept. */
export function textToHtml(text: string): string {
  return `<!doctype html><html><body><p>${escapeHtml(text).replace(/\r?\n/g, "<br>")}</p></body></html>`;
}

/**
 * Resend email sender. From address is `EMAIL_FROM`; without `RESEND_API_KEY` every send raises
 * `ProviderUnavailable("RESEND_API_KEY")`.
 */
export function resendEmail(config: Config): ChannelSender {
  return {
    async send(message: OutgoingMessage): Promise<SentMessage> {
      const apiKey = config.email.resendApiKey;
      if (!apiKey) throw new ProviderUnavailable("RESEND_API_KEY");
      if (message.body === null)
        throw new ProviderError("resend", undefined, "no_body", false, "an email needs a body; templates are not supported by this adapter");
      let errorName: string | undefined;
      const response = await providerFetch(
        "resend",
        `${config.email.baseUrl.replace(/\/+$/, "")}/emails`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", "idempotency-key": message.id },
          body: JSON.stringify({
            from: config.email.from,
            to: [message.recipient],
            subject: message.subject ?? "(no subject)",
            text: message.body,
            html: textToHtml(message.body),
            ...(message.attachments?.length ? { attachments: message.attachments.map((a) => ({ filename: a.filename, content: toBase64(a.content) })) } : {}),
          }),
        },
        (body, status) => {
          const parsed = ResendErrorBody.safeParse(body);
          if (!parsed.success) return { message: `HTTP ${status}` };
          errorName = parsed.data.name;
          return { message: `${parsed.data.message} (${parsed.data.name})`, code: parsed.data.name };
        },
      ).catch((error: unknown) => {
        // A 409 is retryable in general (the first request with this key may still be running),
        // but the same key with a different payload will fail the same way every time.
        if (error instanceof ProviderError && errorName === "invalid_idempotent_request") {
          throw new ProviderError("resend", error.status, error.code, false, error.message.replace(/^resend: /, ""));
        }
        throw error;
      });
      const parsed = SentEmail.safeParse(await response.json().catch(() => undefined));
      // Safe to retry: the idempotency key makes Resend answer the first send's id.
      if (!parsed.success) throw new ProviderError("resend", response.status, "bad_reply", true, "unexpected reply to a send: no id");
      return { providerMessageId: parsed.data.id };
    },
  };
}
