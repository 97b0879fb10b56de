/**
 * Buying through Stripe: Checkout Sessions for plans (subscriptions) and credit packs (one-off
 * payments), and billing-portal sessions. What a purchase grants is applied later, when Stripe's
 * signed webhook says it was paid (webhooks.ts); nothing here grants credits.
 */
import { and, eq, inArray } from "drizzle-orm";
import { stripeCustomers, subscriptions } from "../../../db/schema";
import { stripePriceVariable } from "../../../env";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, BadGateway, Conflict, ProviderUnavailable } from "../../../lib/errors";
import { type Stripe, stripeClient, toProviderError } from "../../../providers/stripe";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { loadOrg } from "../../identity/orgs/service";
import type { CheckoutInput, CheckoutSessionView, PortalSessionView } from "./schemas";

/** Subscription statuses in which an organisation still has its plan (or is about to lose it for non-payment). */
const LIVE_SUBSCRIPTION = ["active", "trialing", "past_due", "unpaid", "incomplete"] as const;

/** Runs one Stripe call; what Stripe refuses or a failed connection becomes a 502 saying so. */
async function callStripe<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const failure = toProviderError(error);
    if (!failure) throw error;
    throw new BadGateway(`Stripe could not ${what}: ${failure.message.replace(/^stripe: /, "")}${failure.retryable ? "; try again" : ""}`);
  }
}

/**
 * The organisation's Stripe customer, created at its first purchase. Race closed: two first
 * checkouts at once. Stripe's Idempotency-Key (derived from the org id) makes both creations
 * answer the same customer, and the primary key on `org_id` with ON CONFLICT DO NOTHING lets
 * one row win; the loser reads the winner's.
 */
export async function ensureStripeCustomer(ctx: ServiceCtx, stripe: Stripe, orgId: string): Promise<string> {
  const existing = await findStripeCustomer(ctx, orgId);
  if (existing) return existing;
  const org = await loadOrg(ctx.db, orgId, null);
  const customer = await callStripe("create the customer", () =>
    stripe.customers.create({ name: org.name, metadata: { org_id: orgId } }, { idempotencyKey: `billx-customer-${orgId}` }),
  );
  const [inserted] = await ctx.db.insert(stripeCustomers).values({ orgId, customerId: customer.id }).onConflictDoNothing().returning();
  if (inserted) return inserted.customerId;
  const winner = await findStripeCustomer(ctx, orgId);
  if (!winner) throw new Error(`stripe customer insert for ${orgId} conflicted but no row was found`);
  return winner;
}

/** The organisation's Stripe customer id, if it has bought anything yet. */
export async function findStripeCustomer(ctx: Pick<ServiceCtx, "db">, orgId: string): Promise<string | undefined> {
  const [row] = await ctx.db.select({ customerId: stripeCustomers.customerId }).from(stripeCustomers).where(eq(stripeCustomers.orgId, orgId));
  return row?.customerId;
}

/**
 * A Stripe Checkout Session for a plan (mode `subscription`) or a credit pack (mode `payment`).
 * `client_reference_id` and metadata carry the organisation and what it buys, so the webhook
 * knows what to grant. A second plan while one is live is a 409: plan changes go through the portal.
 */
export async function createCheckoutSession(ctx: ServiceCtx, input: CheckoutInput): Promise<CheckoutSessionView> {
  assertCan(ctx, "billing:write");
  const orgId = requireOrgId(ctx);
  const item = input.plan ? { kind: "plan" as const, name: input.plan } : { kind: "credit_pack" as const, name: input.credit_pack as string };
  const stripe = await stripeClient(ctx.config);
  const price = ctx.config.stripe.prices[item.name];
  if (!price) throw new ProviderUnavailable(stripePriceVariable(item.name));

  if (item.kind === "plan") {
    const [live] = await ctx.db
      .select({ plan: subscriptions.plan, status: subscriptions.status })
      .from(subscriptions)
      .where(and(eq(subscriptions.orgId, orgId), inArray(subscriptions.status, [...LIVE_SUBSCRIPTION])));
    if (live) throw new Conflict(`This organisation already has the ${live.plan} plan (${live.status}); change or cancel it in the billing portal`);
  }

  const customer = await ensureStripeCustomer(ctx, stripe, orgId);
  const metadata = { org_id: orgId, kind: item.kind, [item.kind]: item.name };
  const { stripe: settings } = ctx.config;
  const session = await callStripe("start Checkout", () =>
    stripe.checkout.sessions.create({
      mode: item.kind === "plan" ? "subscription" : "payment",
      customer,
      client_reference_id: orgId,
      line_items: [{ price, quantity: 1 }],
      metadata,
      // Copied onto the subscription (and from there onto its invoices) or the payment, so
      // renewals and the dashboard say whose they are too.
      ...(item.kind === "plan" ? { subscription_data: { metadata } } : { payment_intent_data: { metadata } }),
      success_url: settings.successUrl,
      cancel_url: settings.cancelUrl,
    }),
  );
  if (!session.url) throw new BadGateway("Stripe started Checkout without a page to send the buyer to");
  await recordAudit(ctx, {
    orgId,
    action: "billing.checkout_started",
    targetType: "checkout_session",
    targetId: session.id,
    metadata: { [item.kind]: item.name },
  });
  return { url: session.url, session_id: session.id };
}

/** A Stripe billing-portal session for the organisation's customer; 404 before its first purchase. */
export async function createPortalSession(ctx: ServiceCtx): Promise<PortalSessionView> {
  assertCan(ctx, "billing:write");
  const orgId = requireOrgId(ctx);
  const stripe = await stripeClient(ctx.config);
  const customer = await findStripeCustomer(ctx, orgId);
  if (!customer) {
    throw new AppError(404, "https://billx.dev/problems/not-found", "Not found", "This organisation has no Stripe customer yet: buy a plan or credits first");
  }
  const session = await callStripe("open the billing portal", () =>
    stripe.billingPortal.sessions.create({ customer, return_url: ctx.config.stripe.portalReturnUrl }),
  );
  return { url: session.url };
}
