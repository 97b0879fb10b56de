import { z } from "@hono/zod-openapi";
import { CREDIT_PACKS, type CreditPackId, DEFAULT_PLAN, PLANS, type PlanId } from "../plans/plans";

/** Plans Checkout sells: every plan but the one organisations get for free. */
export const PAID_PLANS = (Object.keys(PLANS) as PlanId[]).filter((plan) => plan !== DEFAULT_PLAN) as [PlanId, ...PlanId[]];
export const CREDIT_PACK_IDS = Object.keys(CREDIT_PACKS) as [CreditPackId, ...CreditPackId[]];

export const CheckoutBody = z
  .object({
    plan: z.enum(PAID_PLANS).optional().openapi({ description: "A plan to subscribe to (monthly). Give this or `credit_pack`, not both", example: "basic" }),
    credit_pack: z
      .enum(CREDIT_PACK_IDS)
      .optional()
      .openapi({ description: "A one-off pack of credits to buy. Give this or `plan`, not both", example: "credits_1000" }),
  })
  .refine((body) => (body.plan === undefined) !== (body.credit_pack === undefined), {
    message: "Give exactly one of plan or credit_pack",
  })
  .openapi("CheckoutRequest");

export type CheckoutInput = z.infer<typeof CheckoutBody>;

export const CheckoutSession = z
  .object({
    url: z.url().openapi({ description: "Stripe Checkout page to send the buyer to", example: "https://checkout.stripe.com/c/pay/cs_test_a1b2c3" }),
    session_id: z.string().openapi({ description: "Stripe Checkout Session id; Checkout returns to the success URL with it", example: "cs_test_a1b2c3" }),
  })
  .openapi("CheckoutSession");

export type CheckoutSessionView = z.infer<typeof CheckoutSession>;

export const PortalSession = z
  .object({
    url: z.url().openapi({
      description: "Stripe billing portal page where the organisation manages its subscription, payment methods and invoices",
      example: "https://billing.stripe.com/p/session/test_YWNjdF8x",
    }),
  })
  .openapi("BillingPortalSession");

export type PortalSessionView = z.infer<typeof PortalSession>;

export const WebhookReceipt = z
  .object({
    received: z.literal(true).openapi({ description: "The event was verified and recorded", example: true }),
    duplicate: z.boolean().openapi({ description: "True when this event id had already been applied: nothing changed", example: false }),
  })
  .openapi("StripeWebhookReceipt");

export type WebhookReceiptView = z.infer<typeof WebhookReceipt>;
