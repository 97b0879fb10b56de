import { and, eq, sql } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { billRefunds, bills } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { quantityText } from "../../../lib/quantity";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { recordCustomerLedgerEntry } from "../customers/service";
import { moveStock } from "../products/service";
import { withStockRights } from "../products/stock-access";
import type { BillRefundView, BillView, CreateRefundInput } from "./schemas";
import { billView, getBillRow, itemsOf } from "./service";

type RefundRow = typeof billRefunds.$inferSelect;

function refundView(row: RefundRow): BillRefundView {
  return {
    id: row.id,
    bill_id: row.billId,
    amount: row.amount,
    method: row.method,
    reason: row.reason,
    restocked: row.restocked,
    created_at: row.createdAt.toISOString(),
  };
}

/**
 * Gives money back on a paid bill, in part or in full (a paid bill is refunded, never voided).
 * The bill row lock serialises refunds of one bill, so together they never give back more than
 * was paid (a check constraint says so too). On the customer's ledger a refund is two entries
 * that cancel out: a credit note taking the sale down, and the money paid out. With `restock`,
 * the refund that completes a full refund puts the goods back in stock.
 */
export async function refundBill(
  ctx: ServiceCtx,
  id: string,
  input: CreateRefundInput,
  idempotencyKey: string | undefined,
): Promise<{ refund: BillRefundView; bill: BillView }> {
  assertCan(ctx, "bills:write");
  const orgId = requireOrgId(ctx);
  try {
    return await withTransaction(ctx, async (tx) => {
      const bill = await getBillRow(tx, orgId, id, true);
      if (idempotencyKey) {
        const [existing] = await tx
          .select()
          .from(billRefunds)
          .where(and(eq(billRefunds.billId, id), eq(billRefunds.idempotencyKey, idempotencyKey)));
        if (existing) {
          if (existing.amount !== input.amount || existing.method !== input.method) {
            throw new Conflict("This Idempotency-Key was used for a different refund; use a new key for a new refund");
          }
          return { refund: refundView(existing), bill: billView(bill, await itemsOf(tx, id)) };
        }
      }
      if (bill.status !== "paid") {
        throw new Conflict(`Bill ${bill.number ?? id} is ${bill.status}; only a paid bill can be refunded (void an unpaid one instead)`);
      }
      const refundable = bill.amountPaid - bill.amountRefunded;
      if (input.amount > refundable) throw new Conflict(`The refund of ${input.amount} is more than the ${refundable} still refundable`);
      const full = bill.amountRefunded + input.amount === bill.total;
      if (input.restock && !full) {
        throw new Unprocessable([{ path: "restock", message: "Goods go back to stock only with the refund that refunds the whole bill" }]);
      }

      const items = await itemsOf(tx, id);
      if (input.restock) {
        const inner = withStockRights(ctx, tx);
        for (const item of [...items].sort((a, b) => (a.productId ?? "").localeCompare(b.productId ?? ""))) {
          if (!item.productId) continue;
          await moveStock(inner, { productId: item.productId, change: quantityText(item.quantity), reason: "return", note: `Bill ${bill.number} refunded` });
        }
      }
      const now = ctx.now();
      const [refund] = await tx
        .insert(billRefunds)
        .values({
          id: newId("brf"),
          billId: id,
          orgId,
          amount: input.amount,
          method: input.method,
          reason: input.reason ?? null,
          restocked: input.restock ?? false,
          idempotencyKey: idempotencyKey ?? null,
          createdBy: ctx.actor?.userId ?? null,
          createdAt: now,
        })
        .returning();
      if (!refund) throw new Error("refund insert returned no row");
      const [updated] = await tx
        .update(bills)
        .set({
          amountRefunded: sql`${bills.amountRefunded} + ${input.amount}`,
          status: full ? "refunded" : "paid",
          updatedAt: now,
        })
        .where(eq(bills.id, id))
        .returning();
      if (!updated) throw new Error("refunded bill disappeared");
      if (bill.customerId) {
        const inner = { ...ctx, db: tx };
        const reference = { type: "bill_refund", id: refund.id };
        const why = input.reason ? `: ${input.reason}` : "";
        await recordCustomerLedgerEntry(inner, {
          customerId: bill.customerId,
          kind: "credit_note",
          amount: -input.amount,
          reference,
          note: `Credit note for ${bill.number}${why}`,
        });
        await recordCustomerLedgerEntry(inner, {
          customerId: bill.customerId,
          kind: "refund",
          amount: input.amount,
          reference,
          note: `Refund paid for ${bill.number}`,
        });
      }
      await recordAudit(
        { ...ctx, db: tx },
        {
          orgId,
          action: "bill.refunded",
          targetType: "bill",
          targetId: id,
          metadata: { refund_id: refund.id, amount: input.amount, restocked: refund.restocked },
        },
      );
      return { refund: refundView(refund), bill: billView(updated, items) };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new Conflict("A refund with this Idempotency-Key is being recorded");
    throw error;
  }
}
