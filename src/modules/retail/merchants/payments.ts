import { and, desc, eq, lt } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { merchantPayments } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import type { CreateMerchantPaymentInput, MerchantPaymentView, MerchantView } from "./schemas";
import { appendMerchantLedger, balanceOwed, getMerchantInOrg, loadMerchantView, merchantView, orgCurrency } from "./service";

type PaymentRow = typeof merchantPayments.$inferSelect;

function paymentView(row: PaymentRow, currency: string): MerchantPaymentView {
  return {
    id: row.id,
    merchant_id: row.merchantId,
    amount: row.amount,
    currency,
    method: row.method,
    reference: row.reference,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
  };
}

/**
 * Records money paid to a merchant. Paying more than we owe is a 409 naming what we owe, unless
 * `advance` says the excess is paid ahead (what we owe then goes below zero). The merchant row is
 * locked first (`SELECT ... FOR UPDATE`): concurrent payments queue on it and each reads the
 * balance the previous one left, so together they can never pay more than we owe. A repeated
 * Idempotency-Key returns the first payment unchanged. An archived merchant can still be paid
 * what we owe it.
 */
export async function recordMerchantPayment(
  ctx: ServiceCtx,
  merchantId: string,
  input: CreateMerchantPaymentInput,
  idempotencyKey: string | undefined,
): Promise<{ payment: MerchantPaymentView; merchant: MerchantView }> {
  assertCan(ctx, "merchants:write");
  const orgId = requireOrgId(ctx);
  const currency = await orgCurrency(ctx, orgId);
  try {
    return await withTransaction(ctx, async (tx) => {
      const merchant = await getMerchantInOrg(tx, orgId, merchantId, true);
      if (idempotencyKey) {
        // Read after the lock: a concurrent request with the same key has committed by now.
        const [existing] = await tx
          .select()
          .from(merchantPayments)
          .where(and(eq(merchantPayments.orgId, orgId), eq(merchantPayments.idempotencyKey, idempotencyKey)));
        if (existing) {
          if (existing.merchantId !== merchantId) throw new Conflict("This Idempotency-Key was already used for a payment to another merchant");
          return { payment: paymentView(existing, currency), merchant: await loadMerchantView(ctx, tx, orgId, merchantId) };
        }
      }
      const owed = await balanceOwed(tx, orgId, merchantId);
      if (input.amount > owed && !input.advance) {
        throw new Conflict(
          `We owe ${merchant.name} ${Math.max(owed, 0)} (${currency} minor units); a payment of ${input.amount} is more. Send "advance": true to pay ahead`,
        );
      }
      const [payment] = await tx
        .insert(merchantPayments)
        .values({
          id: newId("mpy"),
          orgId,
          merchantId,
          amount: input.amount,
          method: input.method,
          reference: input.reference ?? null,
          idempotencyKey: idempotencyKey ?? null,
          createdBy: ctx.actor?.userId ?? null,
          createdAt: ctx.now(),
        })
        .returning();
      if (!payment) throw new Error("payment insert returned no row");
      const advance = input.amount - Math.max(owed, 0);
      await appendMerchantLedger(ctx, tx, orgId, {
        merchantId,
        kind: "payment",
        amount: -input.amount,
        reference: { type: "merchant_payment", id: payment.id },
        note: advance > 0 ? `Payment to ${merchant.name}, ${advance} of it in advance` : `Payment to ${merchant.name}`,
      });
      await recordAudit(
        { ...ctx, db: tx },
        {
          orgId,
          action: "merchant.payment_recorded",
          targetType: "merchant",
          targetId: merchantId,
          metadata: { payment_id: payment.id, amount: input.amount },
        },
      );
      return { payment: paymentView(payment, currency), merchant: merchantView(merchant, owed - input.amount, currency) };
    });
  } catch (error) {
    // Another merchant's payment took the key between our check and our insert.
    if (isUniqueViolation(error)) throw new Conflict("This Idempotency-Key was already used for another payment");
    throw error;
  }
}

/** Payments to a merchant, newest first. */
export async function listMerchantPayments(ctx: ServiceCtx, merchantId: string, page: PageRequest): Promise<Page<MerchantPaymentView>> {
  assertCan(ctx, "merchants:read");
  const orgId = requireOrgId(ctx);
  await getMerchantInOrg(ctx.db, orgId, merchantId);
  const currency = await orgCurrency(ctx, orgId);
  const rows = await ctx.db
    .select()
    .from(merchantPayments)
    .where(and(eq(merchantPayments.orgId, orgId), eq(merchantPayments.merchantId, merchantId), page.cursor ? lt(merchantPayments.id, page.cursor) : undefined))
    .orderBy(desc(merchantPayments.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.id,
    (r) => paymentView(r, currency),
  );
}
