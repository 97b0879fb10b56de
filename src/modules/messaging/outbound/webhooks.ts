import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../../lib/context";
import { Forbidden, ProviderUnavailable } from "../../../lib/errors";
import { createRouter, problemResponses } from "../../../lib/openapi";
import { verifyHubSignature256 } from "../../../lib/signatures";
import { signedTwilioForm } from "../../../lib/twilio-webhook";
import { applyMarketingKeyword } from "../../content/campaigns/opt-out";
import { applyProviderStatus, applyWhatsAppStatuses, type ReportedStatus, type WhatsAppStatusWebhook } from "./status";

// Twilio's message statuses that say how delivery ended or progressed; the rest (accepted,
// queued, sending, scheduled, ...) tell us nothing new.
const TWILIO_STATUS: Record<string, ReportedStatus> = { sent: "sent", delivered: "delivered", read: "read", undelivered: "failed", failed: "failed" };

const twilioStatusRoute = createRoute({
  method: "post",
  path: "/v1/webhooks/twilio/message-status",
  tags: ["Webhooks"],
  summary: "Twilio message status callback (signed with X-Twilio-Signature)",
  description:
    "Form-encoded `MessageSid`, `MessageStatus`, `ErrorCode`... as Twilio posts them. The signature covers the full URL and every parameter; a bad one is refused with 403 and changes nothing.",
  responses: { 204: { description: "Applied (or nothing to change)" }, ...problemResponses },
});

const twilioInboundSmsRoute = createRoute({
  method: "post",
  path: "/v1/webhooks/twilio/inbound-sms",
  tags: ["Webhooks"],
  summary: "An SMS to the platform's number (signed with X-Twilio-Signature): STOP and START for marketing",
  description:
    "Form-encoded `From`, `Body`, `MessageSid` as Twilio posts them. STOP (UNSUBSCRIBE, STOPALL, CANCEL, END, QUIT) opts every customer with that phone out of campaigns, START (UNSTOP) back in; a change is confirmed once by SMS. A bad signature is refused with 403 and changes nothing. Answers empty TwiML.",
  responses: { 200: { description: "Empty TwiML", content: { "text/xml": { schema: z.string() } } }, ...problemResponses },
});

const whatsappVerifyRoute = createRoute({
  method: "get",
  path: "/v1/webhooks/whatsapp",
  tags: ["Webhooks"],
  summary: "WhatsApp webhook subscription check (hub.challenge)",
  request: {
    query: z.object({
      "hub.mode": z.string().openapi({ description: "Always subscribe", example: "subscribe" }),
      "hub.verify_token": z.string().openapi({ description: "WHATSAPP_VERIFY_TOKEN as configured at Meta", example: "my-verify-token" }),
      "hub.challenge": z.string().openapi({ description: "Echoed back on success", example: "1158201444" }),
    }),
  },
  responses: { 200: { description: "The challenge, as text", content: { "text/plain": { schema: z.string() } } }, ...problemResponses },
});

const whatsappEventsRoute = createRoute({
  method: "post",
  path: "/v1/webhooks/whatsapp",
  tags: ["Webhooks"],
  summary: "WhatsApp Cloud API webhook (signed with X-Hub-Signature-256)",
  description:
    "Delivery statuses (`sent`, `delivered`, `read`, `failed`) update the outbound message log; a text message of STOP or START opts its sender out of (or back into) marketing campaigns. A bad signature is refused with 403 and changes nothing.",
  responses: { 200: { description: "Received" }, ...problemResponses },
});

/** The form Twilio posted, its signature checked against the URL Twilio called (the public one behind a proxy). */
function signedMessagingForm(c: Context<AppEnv>): Promise<Record<string, string>> {
  const publicApiUrl = c.var.ctx.config.publicApiUrl;
  return signedTwilioForm(c, publicApiUrl ? `${publicApiUrl}${c.req.path}${new URL(c.req.url).search}` : c.req.url);
}

interface WhatsAppInbound {
  entry?: { changes?: { value?: { messages?: { id?: unknown; from?: unknown; type?: unknown; text?: { body?: unknown } }[] } }[] }[];
}

/** Text messages to the platform's WhatsApp number, checked level by level (signed is not well-formed). */
function whatsappTexts(payload: WhatsAppInbound): { id: string; phone: string; text: string }[] {
  const list = <T>(value: T[] | undefined): T[] => (Array.isArray(value) ? value : []);
  return (
    list(payload?.entry)
      .flatMap((entry) => list(entry?.changes))
      .flatMap((change) => list(change?.value?.messages))
      .filter((m) => m?.type === "text" && typeof m.id === "string" && typeof m.from === "string" && typeof m.text?.body === "string")
      // WhatsApp names senders by digits alone; customers' phones are E.164.
      .map((m) => ({ id: String(m.id), phone: `+${String(m.from).replace(/^\+/, "")}`, text: String(m.text?.body) }))
  );
}

export const messagingWebhookRoutes = createRouter()
  .openapi(twilioStatusRoute, async (c) => {
    const ctx = c.var.ctx;
    const params = await signedMessagingForm(c);
    const status = TWILIO_STATUS[params.MessageStatus ?? ""];
    if (status && params.MessageSid) {
      const error = params.ErrorCode ? `twilio error ${params.ErrorCode}` : undefined;
      await applyProviderStatus(ctx, { channel: "sms", providerMessageId: params.MessageSid, status, error });
    }
    return c.body(null, 204);
  })
  .openapi(twilioInboundSmsRoute, async (c) => {
    const params = await signedMessagingForm(c);
    if (params.From && params.Body !== undefined && params.MessageSid) {
      await applyMarketingKeyword(c.var.ctx, { channel: "sms", phone: params.From, text: params.Body, inboundId: params.MessageSid });
    }
    return c.body("<Response/>", 200, { "content-type": "text/xml" });
  })
  .openapi(whatsappVerifyRoute, (c) => {
    const query = c.req.valid("query");
    const expected = c.var.ctx.config.whatsapp.verifyToken;
    if (!expected) throw new ProviderUnavailable("WHATSAPP_VERIFY_TOKEN");
    if (query["hub.mode"] !== "subscribe" || query["hub.verify_token"] !== expected) throw new Forbidden("The verify token does not match");
    return c.text(query["hub.challenge"], 200);
  })
  .openapi(whatsappEventsRoute, async (c) => {
    const ctx = c.var.ctx;
    const secret = ctx.config.whatsapp.appSecret;
    if (!secret) throw new ProviderUnavailable("WHATSAPP_APP_SECRET");
    const raw = await c.req.text();
    if (!(await verifyHubSignature256(secret, raw, c.req.header("X-Hub-Signature-256")))) throw new Forbidden("Invalid X-Hub-Signature-256");
    let payload: WhatsAppStatusWebhook;
    try {
      payload = JSON.parse(raw) as WhatsAppStatusWebhook;
    } catch {
      return c.body(null, 200); // signed but not JSON: nothing we can apply, and Meta must not retry it
    }
    await applyWhatsAppStatuses(ctx, payload);
    for (const message of whatsappTexts(payload as WhatsAppInbound)) {
      await applyMarketingKeyword(ctx, { channel: "whatsapp", phone: message.phone, text: message.text, inboundId: message.id });
    }
    // Chatbot numbers have webhooks of their own (/v1/channels/whatsapp/{id}/webhook); this is the platform's number.
    return c.body(null, 200);
  });
