/**
 * Paying an invoice through Stripe Checkout: a one-off Checkout Session for the amount due, whose
 * page the organisation sends its customer to. The invoice turns paid when Stripe's signed
 * webhook reports the session completed (payments/webhooks.ts calls `settleInvoiceCheckout`).
 */
import { and, eq, sql } from "drizzle-orm";
import { customers, invoices } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { BadGateway, Conflict } from "../../../lib/errors";
import { type Stripe, stripeClient, toProviderError } from "../../../providers/stripe";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import type { InvoiceView } from "./schemas";
import { getInvoiceRow, invoiceView, linesOf, sendInvoicePaymentReceipt } from "./service";

/** Marks what Billx put in a session's metadata, so the webhook knows an invoice is being paid. */
export const INVOICE_CHECKOUT_KIND = "invoice";

function appPage(ctx: ServiceCtx, path: string): string {
  return `${ctx.config.appUrl.replace(/\/+$/, "")}${path}`;
}

/**
 * Creates a Checkout Session for an open invoice's amount due and keeps its URL on the invoice.
 * Each call makes a new session (Checkout pages expire after a day); a repeated Idempotency-Key
 * reaches Stripe as the same key, so Stripe answers the first session again.
 */
export async function createInvoicePaymentLink(ctx: ServiceCtx, id: string, idempotencyKey: string | undefined): Promise<InvoiceView> {
  assertCan(ctx, "invoices:write");
  const orgId = requireOrgId(ctx);
  const stripe = await stripeClient(ctx.config);
  const invoice = await getInvoiceRow(ctx.db, orgId, id);
  const name = invoice.number ?? invoice.id;
  if (invoice.status !== "open") throw new Conflict(`Invoice ${name} is ${invoice.status}; only an open invoice can be paid`);
  const due = invoice.total - invoice.amountPaid;
  if (due <= 0) throw new Conflict(`Invoice ${name} has nothing left to pay`);
  const [customer] = await ctx.db
    .select({ email: customers.email })
    .from(customers)
    .where(and(eq(customers.id, invoice.customerId), eq(customers.orgId, orgId)));
  const metadata = { org_id: orgId, kind: INVOICE_CHECKOUT_KIND, invoice_id: invoice.id, invoice_number: name };
  let session: Stripe.Checkout.Session;
  try {
    session = await stripe.checkout.sessions.create(
      {
        mode: "payment",
        client_reference_id: orgId,
        ...(customer?.email ? { customer_email: customer.email } : {}),
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: invoice.currency.toLowerCase(),
              unit_amount: due,
              product_data: { name: `Invoice ${name}`, description: `Usage from ${invoice.periodStart} to ${invoice.periodEnd} (end exclusive)` },
            },
          },
        ],
        metadata,
        payment_intent_data: { metadata },
        success_url: appPage(ctx, `/invoices/${invoice.id}/paid?session_id={CHECKOUT_SESSION_ID}`),
        cancel_url: appPage(ctx, `/invoices/${invoice.id}`),
      },
      idempotencyKey ? { idempotencyKey: `billx-invoice-${invoice.id}-${idempotencyKey}` } : undefined,
    );
  } catch (error) {
    const failure = toProviderError(error);
    if (!failure) throw error;
    throw new BadGateway(`Stripe could not start Checkout: ${failure.message.replace(/^stripe: /, "")}${failure.retryable ? "; try again" : ""}`);
  }
  if (!session.url) throw new BadGateway("Stripe started Checkout without a page to send the customer to");
  // Paid or cancelled while Stripe answered: the session stays unused (it expires on its own).
  const [updated] = await ctx.db
    .update(invoices)
    .set({ paymentUrl: session.url, stripeCheckoutSessionId: session.id, updatedAt: ctx.now() })
    .where(and(eq(invoices.id, id), eq(invoices.orgId, orgId), eq(invoices.status, "open")))
    .returning();
  if (!updated) throw new Conflict(`Invoice ${name} changed while Stripe was asked for a link; it is no longer open`);
  await recordAudit(ctx, {
    orgId,
    action: "invoice.payment_link_created",
    targetType: "invoice",
    targetId: id,
    metadata: { session_id: session.id, amount: due },
  });
  return invoiceView(updated, await linesOf(ctx.db, id));
}

/**
 * A completed Checkout Session for an invoice: the invoice turns paid, once. Runs inside the
 * webhook's transaction (`ctx.db` is it). The conditional UPDATE is what makes it once even
 * across different events (a completed and an async-succeeded event for one session, or two
 * sessions of one invoice both paid): only an open invoice changes.
 */
export async function settleInvoiceCheckout(ctx: ServiceCtx, orgId: string, session: Stripe.Checkout.Session): Promise<void> {
  const invoiceId = session.metadata?.invoice_id;
  if (!invoiceId) {
    ctx.log.warn("stripe invoice checkout without an invoice id", { session_id: session.id });
    return;
  }
  const paymentIntent = typeof session.payment_intent === "string" ? session.payment_intent : session.payment_intent?.id;
  const now = ctx.now();
  const [current] = await ctx.db
    .select({ total: invoices.total, amountPaid: invoices.amountPaid, currency: invoices.currency })
    .from(invoices)
    .where(and(eq(invoices.id, invoiceId), eq(invoices.orgId, orgId)));
  if (current && (session.amount_total !== current.total || session.currency?.toLowerCase() !== current.currency.toLowerCase())) {
    ctx.log.warn("stripe invoice checkout paid another amount than the invoice total", {
      session_id: session.id,
      invoice_id: invoiceId,
      amount_total: session.amount_total,
      total: current.total,
    });
  }
  const [paid] = await ctx.db
    .update(invoices)
    .set({
      status: "paid",
      amountPaid: sql`${invoices.total}`,
      paymentMethod: "stripe",
      paymentReference: paymentIntent ?? session.id,
      stripeCheckoutSessionId: session.id,
      paidAt: now,
      updatedAt: now,
    })
    .where(and(eq(invoices.id, invoiceId), eq(invoices.orgId, orgId), eq(invoices.status, "open")))
    .returning();
  if (!paid) {
    // Already paid (another session, or by hand), void, or unknown: money arrived that nothing
    // now owes. Someone must refund it in Stripe; the log says so.
    ctx.log.warn("stripe invoice checkout completed for an invoice that is not open", { session_id: session.id, invoice_id: invoiceId });
    return;
  }
  await recordAudit(ctx, {
    orgId,
    action: "invoice.paid",
    targetType: "invoice",
    targetId: invoiceId,
    metadata: { method: "stripe", amount: paid.total, session_id: session.id },
  });
  // Inside the webhook's transaction: the consumer retries a job whose row is not committed yet,
  // and only the event that turned the invoice paid gets here, so the receipt goes out once.
  await sendInvoicePaymentReceipt(ctx, paid, paid.total - (current?.amountPaid ?? 0));
}
