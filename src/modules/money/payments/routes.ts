import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, problem, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { CheckoutBody, CheckoutSession, PortalSession, WebhookReceipt } from "./schemas";
import { createCheckoutSession, createPortalSession } from "./service";
import { processStripeEvent, verifyStripeEvent } from "./webhooks";

const json = <T>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const tags = ["Payments"];
const notConfigured = { 503: problem("Stripe (or the price of what is bought) is not configured; the detail names the variable to set") };
const stripeFailed = { 502: problem("Stripe refused the request or could not be reached") };

const createCheckoutRoute = createRoute({
  method: "post",
  path: "/v1/payments/checkout",
  summary: "Start a Stripe Checkout for a plan or a credit pack",
  description:
    "Answers the Checkout page to send the buyer to. Nothing is granted yet: credits and the plan arrive when Stripe reports the payment through the webhook. A plan is a monthly subscription; a credit pack is a one-off payment.",
  tags,
  ...authed("billing:write"),
  request: { body: { required: true, content: { "application/json": { schema: CheckoutBody } } } },
  responses: { 201: json(CheckoutSession, "The Checkout Session"), ...problemResponses, ...stripeFailed, ...notConfigured },
});

const createPortalRoute = createRoute({
  method: "post",
  path: "/v1/payments/portal",
  summary: "Open the Stripe billing portal for the organisation",
  description: "Where the organisation changes or cancels its plan, updates payment methods and downloads invoices. 404 before its first purchase.",
  tags,
  ...authed("billing:write"),
  responses: { 200: json(PortalSession, "The portal session"), ...problemResponses, ...stripeFailed, ...notConfigured },
});

const stripeWebhookRoute = createRoute({
  method: "post",
  path: "/v1/webhooks/stripe",
  tags: ["Webhooks"],
  summary: "Stripe webhook (signed with Stripe-Signature)",
  description:
    "Stripe events, verified against STRIPE_WEBHOOK_SECRET (timestamps older than 300 s are refused with 400). Each event id is applied once, however often Stripe delivers it: paid Checkout Sessions grant credit packs and start plans, `invoice.paid` grants the plan's credits for the period, `invoice.payment_failed` marks the subscription past due and emails the owners, `customer.subscription.*` keep status, plan and period. Other event types are recorded and ignored.",
  request: {
    headers: z.object({
      "stripe-signature": z
        .string()
        .optional()
        .openapi({ description: "t=<unix seconds>,v1=<hex HMAC-SHA256 of `<t>.<raw body>`>", example: "t=1700000000,v1=4f1cd7fe..." }),
    }),
  },
  responses: { 200: json(WebhookReceipt, "Verified and recorded"), ...problemResponses, ...notConfigured },
});

export const paymentsRoutes = createRouter()
  .openapi(createCheckoutRoute, async (c) => c.json(await createCheckoutSession(c.var.ctx, c.req.valid("json")), 201))
  .openapi(createPortalRoute, async (c) => c.json(await createPortalSession(c.var.ctx), 200))
  .openapi(stripeWebhookRoute, async (c) => {
    const ctx = c.var.ctx;
    // The signature covers the exact bytes Stripe sent: read the raw text, never re-serialised JSON.
    const event = await verifyStripeEvent(ctx.config, await c.req.text(), c.req.header("Stripe-Signature"));
    return c.json(await processStripeEvent(ctx, event), 200);
  });
