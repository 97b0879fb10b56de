import { createRoute, z } from "@hono/zod-openapi";
import { Forbidden, ProviderUnavailable } from "../../../lib/errors";
import { createRouter, problemResponses } from "../../../lib/openapi";
import { verifyHubSignature256, verifyTwilioSignature } from "../../../lib/signatures";
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
    "Delivery statuses (`sent`, `delivered`, `read`, `failed`) update the outbound message log. A bad signature is refused with 403 and changes nothing.",
  responses: { 200: { description: "Received" }, ...problemResponses },
});

export const messagingWebhookRoutes = createRouter()
  .openapi(twilioStatusRoute, async (c) => {
    const ctx = c.var.ctx;
    const authToken = ctx.config.twilio.authToken;
    if (!authToken) throw new ProviderUnavailable("TWILIO_AUTH_TOKEN");
    const form = await c.req.parseBody();
    const params = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, String(v)]));
    // Twilio signs the URL it called; behind a proxy that is the public URL, not ours.
    const url = ctx.config.publicApiUrl ? `${ctx.config.publicApiUrl}${c.req.path}${new URL(c.req.url).search}` : c.req.url;
    if (!(await verifyTwilioSignature(authToken, url, params, c.req.header("X-Twilio-Signature")))) throw new Forbidden("Invalid X-Twilio-Signature");
    const status = TWILIO_STATUS[params.MessageStatus ?? ""];
    if (status && params.MessageSid) {
      const error = params.ErrorCode ? `twilio error ${params.ErrorCode}` : undefined;
      await applyProviderStatus(ctx, { channel: "sms", providerMessageId: params.MessageSid, status, error });
    }
    return c.body(null, 204);
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
    // Chatbot numbers have webhooks of their own (/v1/channels/whatsapp/{id}/webhook); this is the platform's number.
    return c.body(null, 200);
  });
