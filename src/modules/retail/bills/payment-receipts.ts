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

/**
 * Queues one receipt to the bill's customer (email if they have one, else SMS) saying what was
 * paid, what is still owed and where to see the bill. Keyed by the payment, so it goes out once
 * however often the payment request is retried. Nothing is sent when the organisation turned
 * receipts off or the customer cannot be reached.
 */
export async function sendPaymentReceipt(ctx: ServiceCtx, facts: ReceiptFacts): Promise<void> {
  if (!(await paymentReceiptsEnabled(ctx, facts.orgId))) return;
  const bill = await loadBillDocument(ctx.db, facts.orgId, facts.billId);
  const email = bill?.customer?.email?.trim();
  const phone = bill?.customer?.phone?.trim();
  if (!bill || (!email && !phone)) return;
  const link = await signBillLink(ctx.config, bill, ctx.now());
  const number = bill.number ?? "your bill";
  const paid = formatMoney(facts.amount, bill.currency);
  const owed = facts.balanceDue > 0 ? `Still owed: ${formatMoney(facts.balanceDue, bill.currency)}.` : "The bill is paid in full.";
  await sendMessage(ctx, {
    orgId: facts.orgId,
    channel: email ? "email" : "sms",
    recipient: email ?? phone ?? "",
    subject: email ? `Payment received for ${number} from ${bill.orgName}` : undefined,
    body: [`${bill.orgName}: thank you, we received ${paid} for bill ${number}. ${owed}`, "View it here:", link.url].join("\n"),
    idempotencyKey: `payment-receipt:${facts.paymentId}`,
    entity: { type: "bill_payment", id: facts.paymentId },
  });
}
