import { z } from "zod";
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import type { ChannelSender, OutgoingMessage, SentMessage } from "./channel";
import { ProviderError } from "./errors";
import { providerFetch } from "./http";

/** The Graph API error envelope the Cloud API answers with. */
const GraphErrorBody = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.number().optional(),
    error_subcode: z.number().optional(),
    error_data: z.object({ details: z.string().optional() }).optional(),
    fbtrace_id: z.string().optional(),
  }),
});

const SentWhatsAppMessage = z.object({
  messaging_product: z.literal("whatsapp"),
  messages: z.array(z.object({ id: z.string().min(1) })).min(1),
});

/**
 * Meta's throttling codes. The Cloud API reports them with HTTP 400, so the status alone would
 * make them permanent; waiting and trying again is exactly what Meta's error reference advises.
 * 4: app-wide API call limit; 80007: WhatsApp Business Account limit; 130429: phone number
 * throughput limit; 131056: too many messages to one recipient (pair rate limit).
 */
const THROTTLING_CODES = new Set(["4", "80007", "130429", "131056"]);

function describeGraphError(body: unknown, status: number): { message: string; code?: string } {
  const parsed = GraphErrorBody.safeParse(body);
  if (!parsed.success) return { message: `HTTP ${status}` };
  const { message, code, error_data } = parsed.data.error;
  // `message` is "(#131030) Recipient phone number not in allowed list"; `details` says what to do.
  const text = [message ?? `HTTP ${status}`, error_data?.details].filter(Boolean).join(": ");
  return { message: text, code: code === undefined ? undefined : String(code) };
}

/** The configured business number's Graph API URL and token; `ProviderUnavailable` names what is missing. */
function graphNumber(config: Config): { url: string; accessToken: string } {
  const { accessToken, phoneNumberId, graphVersion, baseUrl } = config.whatsapp;
  if (!accessToken) throw new ProviderUnavailable("WHATSAPP_ACCESS_TOKEN");
  if (!phoneNumberId) throw new ProviderUnavailable("WHATSAPP_PHONE_NUMBER_ID");
  return { url: `${baseUrl.replace(/\/+$/, "")}/${graphVersion}/${encodeURIComponent(phoneNumberId)}`, accessToken };
}

type WhatsAppPayload = Record<string, unknown> & { type: "text" | "template" | "image" };

/**
 * The message object for `POST /{phone-number-id}/messages`. A template wins over media, media
 * over plain text. Template variables fill the body's parameters; `language` picks the
 * template's language. Postgres jsonb does not keep key order, so positional keys are sorted
 * ("1", "2", … "10" numerically) to put each value in its `{{n}}` slot.
 */
function whatsappPayload(message: OutgoingMessage): WhatsAppPayload {
  if (message.template) {
    const { language, ...values } = message.variables ?? {};
    const parameters = Object.keys(values)
      .sort((a, b) => a.localeCompare(b, "en", { numeric: true }))
      .map((key) => ({ type: "text", text: values[key] }));
    return {
      type: "template",
      template: {
        name: message.template,
        language: { code: language ?? "en_US" },
        // A template without variables must not carry an empty body component.
        ...(parameters.length > 0 ? { components: [{ type: "body", parameters }] } : {}),
      },
    };
  }
  if (message.media?.url) {
    return { type: "image", image: { link: message.media.url, ...(message.body ? { caption: message.body } : {}) } };
  }
  return { type: "text", text: { body: message.body ?? "", preview_url: false } };
}

/**
 * WhatsApp Cloud API: `POST {graph}/{version}/{phone-number-id}/messages` with a bearer token.
 * Text, template and image messages; the `wamid.…` id comes back for status webhooks. Without
 * `WHATSAPP_ACCESS_TOKEN` or `WHATSAPP_PHONE_NUMBER_ID` a send raises `ProviderUnavailable`.
 */
export function whatsappCloud(config: Config): ChannelSender {
  return {
    async send(message: OutgoingMessage): Promise<SentMessage> {
      const { url, accessToken } = graphNumber(config);

      const payload = {
        messaging_product: "whatsapp",
        recipient_type: "individual",
        // The Cloud API takes the number without "+".
        to: message.recipient.replace(/^\+/, ""),
        ...whatsappPayload(message),
      };
      let described: { message: string; code?: string } | undefined;
      let response: Response;
      try {
        response = await providerFetch(
          "whatsapp",
          `${url}/messages`,
          {
            method: "POST",
            headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
            body: JSON.stringify(payload),
          },
          (body, status) => {
            described = describeGraphError(body, status);
            return described;
          },
        );
      } catch (error) {
        if (error instanceof ProviderError && !error.retryable && error.code !== undefined && THROTTLING_CODES.has(error.code)) {
          throw new ProviderError("whatsapp", error.status, error.code, true, described?.message ?? error.message, error.retryAfterSeconds);
        }
        throw error;
      }
      const parsed = SentWhatsAppMessage.safeParse(await response.json().catch(() => undefined));
      // The Cloud API has no idempotency key: a 200 means Meta accepted the message, and sending
      // again would deliver it twice, so an unreadable reply is not retried.
      const [accepted] = parsed.success ? parsed.data.messages : [];
      if (!accepted) throw new ProviderError("whatsapp", response.status, "bad_reply", false, "accepted, but the reply carried no message id");
      return { providerMessageId: accepted.id };
    },
  };
}

const ReadReceipt = z.object({ success: z.literal(true) });

const PhoneNumber = z.object({ id: z.string(), display_phone_number: z.string().min(1), verified_name: z.string().optional() });

/**
 * The configured business number as Meta knows it (`GET /{phone-number-id}`): checks that the
 * access token may use that number. A wrong token is a 401 `ProviderError` (code 190), a number
 * the token cannot see a 400 (code 100).
 */
export async function getPhoneNumber(config: Config): Promise<{ displayPhoneNumber: string; verifiedName: string | null }> {
  const { url, accessToken } = graphNumber(config);
  const response = await providerFetch(
    "whatsapp",
    `${url}?fields=display_phone_number,verified_name`,
    { method: "GET", headers: { authorization: `Bearer ${accessToken}` } },
    describeGraphError,
  );
  const parsed = PhoneNumber.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new ProviderError("whatsapp", response.status, "bad_reply", true, "the phone number's details were unreadable");
  return { displayPhoneNumber: parsed.data.display_phone_number, verifiedName: parsed.data.verified_name ?? null };
}

/**
 * Marks an inbound message read and shows "typing…" to its sender (the Cloud API's typing
 * indicator: it lasts until the reply or 25 seconds). Uses the configured number's credentials.
 */
export async function markReadWithTyping(config: Config, inboundMessageId: string): Promise<void> {
  const { url, accessToken } = graphNumber(config);
  const response = await providerFetch(
    "whatsapp",
    `${url}/messages`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ messaging_product: "whatsapp", status: "read", message_id: inboundMessageId, typing_indicator: { type: "text" } }),
    },
    describeGraphError,
  );
  if (!ReadReceipt.safeParse(await response.json().catch(() => undefined)).success) {
    throw new ProviderError("whatsapp", response.status, "bad_reply", false, "unexpected reply to a read receipt");
  }
}

/** `config` with another business number's credentials: a sales channel's number speaks through the same adapter. */
export function withWhatsAppNumber(config: Config, phoneNumberId: string, accessToken: string): Config {
  return { ...config, whatsapp: { ...config.whatsapp, phoneNumberId, accessToken } };
}
