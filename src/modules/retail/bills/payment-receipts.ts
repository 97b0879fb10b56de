import type { ServiceCtx } from "../../../lib/context";
import { paymentReceiptsEnabled } from "../../identity/org-settings/service";
import { sendMessage } from "../../messaging/outbound/service";
import { loadBillDocument } from "./document";
import { formatMoney } from "./format";
import { signBillLink } from "./links";

/** The payment a receipt is for, and what the bill still owes once it is applied. */
export interface ReceiptFacts {
  orgId: string;
  billId: string;
  paymentId: string;
  amount: number;
  balanceDue: number;
}

/** One payment on a bill or an invoice, as its receipt tells it. Money in minor units of `currency`. */
export interface PaymentReceipt {
  orgId: string;
  orgName: string;
  document: { noun: "bill" | "invoice"; number: string | null; currency: string };
  customer: { email: string | null; phone: string | null } | null;
  /** Unique per payment: the receipt's idempotency key and what its message row is about. */
  payment: { type: "bill_payment" | "invoice_payment"; id: string };
  amount: number;
  balanceDue: number;
  /** Where the customer can see the document without signing in, when it has such a page. */
  link?: string;
}

/**
 * Queues one receipt to the customer (email if they have one, else SMS) saying what was paid and
 * what is still owed, with the link when there is one. Keyed by the payment, so it goes out once
 * however often the payment request is retried. Nothing is sent when the organisation turned
 * receipts off or the customer cannot be reached.
 */
export async function queuePaymentReceipt(ctx: ServiceCtx, receipt: PaymentReceipt): Promise<void> {
  const email = receipt.customer?.email?.trim();
  const phone = receipt.customer?.phone?.trim();
  if (!email && !phone) return;
  if (!(await paymentReceiptsEnabled(ctx, receipt.orgId))) return;
  const { noun, currency } = receipt.document;
  const number = receipt.document.number ?? `your ${noun}`;
  const paid = formatMoney(receipt.amount, currency);
  const owed = receipt.balanceDue > 0 ? `Still owed: ${formatMoney(receipt.balanceDue, currency)}.` : `The ${noun} is paid in full.`;
  const lines = [`${receipt.orgName}: thank you, we received ${paid} for ${noun} ${number}. ${owed}`];
  if (receipt.link) lines.push("View it here:", receipt.link);
  await sendMessage(ctx, {
    orgId: receipt.orgId,
    channel: email ? "email" : "sms",
    recipient: email ?? phone ?? "",
    subject: email ? `Payment received for ${number} from ${receipt.orgName}` : undefined,
    body: lines.join("\n"),
    // Bill payments keep the key they always had; invoice ids cannot collide with payment ids.
    idempotencyKey: `payment-receipt:${receipt.payment.id}`,
    entity: receipt.payment,
  });
}

/** Queues the receipt of a payment just recorded on a bill, with the bill's public link (see `queuePaymentReceipt`). */
export async function sendPaymentReceipt(ctx: ServiceCtx, facts: ReceiptFacts): Promise<void> {
  const bill = await loadBillDocument(ctx.db, facts.orgId, facts.billId);
  if (!bill) return;
  const link = await signBillLink(ctx.config, bill, ctx.now());
  await queuePaymentReceipt(ctx, {
    orgId: facts.orgId,
    orgName: bill.orgName,
    document: { noun: "bill", number: bill.number, currency: bill.currency },
    customer: bill.customer,
    payment: { type: "bill_payment", id: facts.paymentId },
    amount: facts.amount,
    balanceDue: facts.balanceDue,
    link: link.url,
  });
}
