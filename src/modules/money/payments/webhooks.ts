/**
 * Stripe's webhook events: verified, recorded once by event id, and applied in the same
 * transaction as that record.
 *
 * Why one transaction: Stripe delivers at least once, sometimes several copies at the same time,
 * and retries for days after a failure. The INSERT of the event id is the gate: a concurrent copy
 * waits on the first one's unique-key lock and then finds the row, so the event is applied once;
 * if applying fails, the row rolls back with everything else and Stripe's retry applies it.
 *
 * Events do not arrive in order either: a subscription row remembers the `created` time of the
 * event that last changed it, and an older event never overwrites a newer one.
 */
import { eq, lte, sql } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { SUBSCRIPTION_STATUSES, stripeCustomers, stripeEvents, subscriptions } from "../../../db/schema";
import type { Config } from "../../../env";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, BadRequest, ProviderUnavailable } from "../../../lib/errors";
import { constructStripeEvent, isSignatureError, type Stripe } from "../../../providers/stripe";
import { listOwnerEmails } from "../../identity/members/service";
import { loadOrg } from "../../identity/orgs/service";
import { sendMessage } from "../../messaging/outbound/service";
import { INVOICE_CHECKOUT_KIND, settleInvoiceCheckout } from "../../usage/invoices/stripe";
import { grantCredits } from "../credits/ledger";
import { creditPackFor, DEFAULT_PLAN, isPlanId, PLANS, type PlanId } from "../plans/plans";
import type { WebhookReceiptView } from "./schemas";

type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/**
 * Checks `Stripe-Signature` against the raw body with `STRIPE_WEBHOOK_SECRET` (HMAC-SHA256 over
 * `"<t>.<body>"`, timestamp at most 300 s old) and returns the event. Anything wrong — no header,
 * a forged or stale signature, another secret, a changed body — is a 400. `nowSeconds` replaces
 * the clock, for fixed test vectors.
 */
export async function verifyStripeEvent(config: Config, rawBody: string, header: string | undefined, nowSeconds?: number): Promise<Stripe.Event> {
  const secret = config.stripe.webhookSecret;
  if (!secret) throw new ProviderUnavailable("STRIPE_WEBHOOK_SECRET");
  if (!header) throw new BadRequest("Missing Stripe-Signature header");
  try {
    return await constructStripeEvent(rawBody, header, secret, nowSeconds);
  } catch (error) {
    // Our own wording: the SDK's messages run to several lines and describe our secret's formatting.
    if (isSignatureError(error)) {
      const stale = error instanceof Error && error.message.startsWith("Timestamp outside the tolerance zone");
      throw new BadRequest(
        stale
          ? "Invalid Stripe-Signature: its timestamp is outside the 300 s tolerance"
          : "Invalid Stripe-Signature: no v1 signature matches this body and the endpoint's signing secret",
      );
    }
    // A correct signature over something that is not JSON: Stripe never sends that.
    throw new BadRequest("The webhook body is not a Stripe event");
  }
}

/** Work that must wait until the event's transaction has committed. */
type AfterCommit = (ctx: ServiceCtx) => Promise<void>;

/**
 * Records the event and applies it, once per event id. A repeat answers `duplicate: true` and
 * changes nothing. Unknown event types are recorded and otherwise ignored.
 */
export async function processStripeEvent(ctx: ServiceCtx, event: Stripe.Event): Promise<WebhookReceiptView> {
  const { duplicate, afterCommit } = await withTransaction(ctx, async (tx) => {
    const [recorded] = await tx.insert(stripeEvents).values({ id: event.id, type: event.type }).onConflictDoNothing().returning({ id: stripeEvents.id });
    if (!recorded) return { duplicate: true, afterCommit: followUp(event) };
    // `grantCredits` and every write below join this transaction through `db: tx`.
    const afterCommit = await applyEvent({ ...ctx, db: tx }, event);
    await tx.update(stripeEvents).set({ processedAt: ctx.now() }).where(eq(stripeEvents.id, event.id));
    return { duplicate: false, afterCommit };
  });
  // Emails are queued only after commit: a queued job whose message row then rolled back would be
  // dropped by the consumer. They are idempotent per event, so they run again for a repeat, which
  // covers a crash between the commit and this line.
  if (afterCommit) await afterCommit(ctx);
  return { received: true, duplicate };
}

async function applyEvent(ctx: ServiceCtx, event: Stripe.Event): Promise<AfterCommit | undefined> {
  switch (event.type) {
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded":
      await checkoutPaid(ctx, event.data.object, event.created);
      return undefined;
    case "invoice.paid":
      await invoicePaid(ctx, event.data.object, event.created);
      return undefined;
    case "invoice.payment_failed":
      await invoicePaymentFailed(ctx, event.data.object, event.created);
      return followUp(event);
    case "customer.subscription.created":
    case "customer.subscription.updated":
    case "customer.subscription.deleted":
      await subscriptionChanged(ctx, event.data.object, event.created, event.type === "customer.subscription.deleted");
      return undefined;
    default:
      ctx.log.debug("stripe event ignored", { event_id: event.id, type: event.type });
      return undefined;
  }
}

function followUp(event: Stripe.Event): AfterCommit | undefined {
  if (event.type === "invoice.payment_failed") return (ctx) => notifyPaymentFailed(ctx, event.id, event.data.object);
  return undefined;
}

/** A paid Checkout Session: credits for a pack; for a plan, the subscription and its first allowance. */
async function checkoutPaid(ctx: ServiceCtx, session: Stripe.Checkout.Session, eventCreated: number): Promise<void> {
  // Delayed payment methods complete Checkout unpaid; `async_payment_succeeded` follows when they pay.
  if (session.payment_status === "unpaid") return;
  const orgId = await existingOrg(ctx, session.client_reference_id ?? session.metadata?.org_id);
  if (!orgId) {
    ctx.log.warn("stripe checkout for no known organisation", { session_id: session.id });
    return;
  }
  const metadata = session.metadata ?? {};
  // An organisation's customer paying one of its usage invoices (src/modules/usage/invoices/stripe.ts).
  if (metadata.kind === INVOICE_CHECKOUT_KIND) return settleInvoiceCheckout(ctx, orgId, session);
  if (metadata.kind === "credit_pack") {
    const packId = metadata.credit_pack ?? "";
    const pack = creditPackFor(packId);
    if (!pack) {
      ctx.log.warn("stripe checkout for an unknown credit pack", { session_id: session.id, credit_pack: packId });
      return;
    }
    await grantCredits(ctx, {
      orgId,
      amount: pack.credits,
      kind: "purchase",
      reference: { type: "checkout_session", id: session.id },
      note: `Credit pack ${packId} (Stripe Checkout)`,
    });
    return;
  }
  if (metadata.kind === "plan" && session.subscription) {
    const plan = paidPlan(metadata.plan);
    const customerId = idOf(session.customer);
    if (!plan || !customerId) {
      ctx.log.warn("stripe plan checkout without a known plan or customer", { session_id: session.id, plan: metadata.plan });
      return;
    }
    await upsertSubscription(ctx, { id: idOf(session.subscription) as string, orgId, customerId, plan, status: "active" }, eventCreated);
    // The same reference as `invoice.paid` for this first invoice: whichever arrives first grants.
    const invoiceId = idOf(session.invoice);
    if (invoiceId) await grantPlanAllowance(ctx, orgId, plan, invoiceId);
  }
}

/** A paid subscription invoice: the plan's allowance for the period it pays for. */
async function invoicePaid(ctx: ServiceCtx, invoice: Stripe.Invoice, eventCreated: number): Promise<void> {
  const billed = await subscriptionInvoice(ctx, invoice);
  if (!billed) return;
  await upsertSubscription(ctx, { ...billed, status: "active" }, eventCreated);
  await grantPlanAllowance(ctx, billed.orgId, billed.plan, invoice.id);
}

async function invoicePaymentFailed(ctx: ServiceCtx, invoice: Stripe.Invoice, eventCreated: number): Promise<void> {
  const billed = await subscriptionInvoice(ctx, invoice);
  if (!billed) return;
  await upsertSubscription(ctx, { ...billed, status: "past_due" }, eventCreated);
}

async function subscriptionChanged(ctx: ServiceCtx, subscription: Stripe.Subscription, eventCreated: number, deleted: boolean): Promise<void> {
  const customerId = idOf(subscription.customer);
  const orgId = await orgOfCustomer(ctx, customerId, subscription.metadata?.org_id);
  const plan = planOf(
    ctx.config,
    subscription.items.data.map((item) => item.price.id),
    subscription.metadata?.plan,
  );
  if (!orgId || !customerId || !plan) {
    ctx.log.warn("stripe subscription for no known organisation or plan", { subscription_id: subscription.id });
    return;
  }
  const periodEnds = subscription.items.data.map((item) => item.current_period_end).filter((end) => typeof end === "number");
  await upsertSubscription(
    ctx,
    {
      id: subscription.id,
      orgId,
      customerId,
      plan,
      status: deleted ? "canceled" : knownStatus(subscription.status),
      currentPeriodEnd: periodEnds.length > 0 ? new Date(Math.max(...periodEnds) * 1000) : undefined,
    },
    eventCreated,
  );
}

interface SubscriptionFacts {
  id: string;
  orgId: string;
  customerId: string;
  plan: PlanId;
  status: SubscriptionStatus;
  currentPeriodEnd?: Date;
}

/** What a subscription invoice says about its subscription; undefined for other invoices or strangers. */
async function subscriptionInvoice(ctx: ServiceCtx, invoice: Stripe.Invoice): Promise<Omit<SubscriptionFacts, "status"> | undefined> {
  const details = invoice.parent?.subscription_details;
  const subscriptionId = idOf(details?.subscription);
  if (!subscriptionId) return undefined;
  const customerId = idOf(invoice.customer);
  const orgId = await orgOfCustomer(ctx, customerId, details?.metadata?.org_id);
  const lines = invoice.lines.data;
  const plan = planOf(
    ctx.config,
    lines.map((line) => idOf(line.pricing?.price_details?.price)),
    details?.metadata?.plan,
  );
  if (!orgId || !customerId || !plan) {
    ctx.log.warn("stripe invoice for no known organisation or plan", { invoice_id: invoice.id, subscription_id: subscriptionId });
    return undefined;
  }
  const periodEnds = lines.map((line) => line.period?.end).filter((end): end is number => typeof end === "number");
  return {
    id: subscriptionId,
    orgId,
    customerId,
    plan,
    currentPeriodEnd: periodEnds.length > 0 ? new Date(Math.max(...periodEnds) * 1000) : undefined,
  };
}

/**
 * Inserts or updates the subscription row, unless a newer event already changed it. Fields the
 * event does not know (`currentPeriodEnd` from a Checkout Session) are left as they are.
 */
async function upsertSubscription(ctx: ServiceCtx, facts: SubscriptionFacts, eventCreated: number): Promise<void> {
  const changes = {
    orgId: facts.orgId,
    stripeCustomerId: facts.customerId,
    plan: facts.plan,
    status: facts.status,
    ...(facts.currentPeriodEnd ? { currentPeriodEnd: facts.currentPeriodEnd } : {}),
    lastEventAt: eventCreated,
  };
  await ctx.db
    .insert(subscriptions)
    .values({ stripeSubscriptionId: facts.id, ...changes })
    .onConflictDoUpdate({
      target: subscriptions.stripeSubscriptionId,
      set: { ...changes, updatedAt: sql`now()` },
      setWhere: lte(subscriptions.lastEventAt, eventCreated),
    });
}

/** The plan's monthly credits for one paid invoice; the invoice id makes it count once. */
async function grantPlanAllowance(ctx: ServiceCtx, orgId: string, plan: PlanId, invoiceId: string): Promise<void> {
  await grantCredits(ctx, {
    orgId,
    amount: PLANS[plan].monthlyCredits,
    kind: "grant",
    reference: { type: "stripe_invoice", id: invoiceId },
    note: `${PLANS[plan].name} plan allowance`,
  });
}

/** Tells the organisation's owners by email that Stripe could not collect a subscription payment. */
async function notifyPaymentFailed(ctx: ServiceCtx, eventId: string, invoice: Stripe.Invoice): Promise<void> {
  const details = invoice.parent?.subscription_details;
  if (!idOf(details?.subscription)) return;
  const orgId = await orgOfCustomer(ctx, idOf(invoice.customer), details?.metadata?.org_id);
  if (!orgId) return;
  const org = await loadOrg(ctx.db, orgId, null);
  const plan = planOf(
    ctx.config,
    invoice.lines.data.map((line) => idOf(line.pricing?.price_details?.price)),
    details?.metadata?.plan,
  );
  const amount = formatMoney(invoice.amount_due, invoice.currency);
  const body = [
    `We could not collect ${amount} for the ${plan ? PLANS[plan].name : "paid"} plan of ${org.name}.`,
    "Stripe will try again over the next days. To keep the plan, update the payment method in the billing portal:",
    `${ctx.config.appUrl.replace(/\/+$/, "")}/billing`,
    ...(invoice.hosted_invoice_url ? ["", `Invoice: ${invoice.hosted_invoice_url}`] : []),
  ].join("\n");
  for (const email of await listOwnerEmails(ctx, orgId)) {
    await sendMessage(ctx, {
      orgId,
      channel: "email",
      recipient: email,
      subject: `Payment failed for ${org.name}'s Billx subscription`,
      body,
      idempotencyKey: `stripe:${eventId}:${email.toLowerCase()}`,
      entity: { type: "stripe_invoice", id: invoice.id },
    });
  }
}

/** Minor units as a person reads them, with the currency's own number of decimals (JPY has none). */
function formatMoney(amount: number, currency: string): string {
  try {
    const format = new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() });
    return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    return `${amount} ${currency.toUpperCase()} (minor units)`;
  }
}

/**
 * The organisation a Stripe customer belongs to: our record of the customer first, else the
 * org id Billx put in the object's metadata, if that organisation (still) exists.
 */
async function orgOfCustomer(ctx: ServiceCtx, customerId: string | undefined, metadataOrgId: string | undefined): Promise<string | undefined> {
  if (customerId) {
    const [row] = await ctx.db.select({ orgId: stripeCustomers.orgId }).from(stripeCustomers).where(eq(stripeCustomers.customerId, customerId));
    if (row) return row.orgId;
  }
  return existingOrg(ctx, metadataOrgId);
}

async function existingOrg(ctx: ServiceCtx, orgId: string | null | undefined): Promise<string | undefined> {
  if (!orgId) return undefined;
  try {
    return (await loadOrg(ctx.db, orgId, null)).id;
  } catch (error) {
    if (error instanceof AppError && error.status === 404) return undefined;
    throw error;
  }
}

/**
 * The plan a subscription is on. Its price decides (a plan changed in the portal keeps the old
 * metadata); the metadata Billx set at checkout is the fallback for a price no longer configured.
 */
function planOf(config: Config, priceIds: (string | undefined)[], metadataPlan: string | undefined): PlanId | undefined {
  for (const priceId of priceIds) {
    const match = Object.entries(config.stripe.prices).find(([, configured]) => configured && configured === priceId);
    const plan = paidPlan(match?.[0]);
    if (plan) return plan;
  }
  return paidPlan(metadataPlan);
}

function paidPlan(name: string | undefined): PlanId | undefined {
  return name && isPlanId(name) && name !== DEFAULT_PLAN ? name : undefined;
}

function knownStatus(status: string): SubscriptionStatus {
  return (SUBSCRIPTION_STATUSES as readonly string[]).includes(status) ? (status as SubscriptionStatus) : "incomplete";
}

/** The id of an expandable Stripe field (an id string, an expanded object, or nothing). */
function idOf(value: string | { id?: string } | null | undefined): string | undefined {
  if (!value) return undefined;
  return typeof value === "string" ? value : value.id;
}
