import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { billRefunds, products } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface Bill {
  id: string;
  number: string;
  status: string;
  total: number;
  amount_paid: number;
  amount_refunded: number;
}

interface RefundResult {
  refund: { id: string; amount: number; restocked: boolean; reason: string | null };
  bill: Bill;
}

async function paidBill(owner: SignedUp, options: { customerId?: string; productId?: string } = {}): Promise<Bill> {
  const item = options.productId ? { product_id: options.productId, quantity: "2.5" } : { description: "Repair", quantity: 1, unit_price: 5000 };
  const body = { customer_id: options.customerId, issue: true, items: [item] };
  const bill = await expectJson<Bill>(await call("/v1/bills", { token: owner.access_token, body }), 201);
  await expectJson(await call(`/v1/bills/${bill.id}/payments`, { token: owner.access_token, body: { amount: bill.total, method: "card" } }), 201);
  return bill;
}

function refund(who: SignedUp, billId: string, body: Record<string, unknown>, key?: string): Promise<Response> {
  return call(`/v1/bills/${billId}/refunds`, {
    token: who.access_token,
    orgId: who.orgId,
    body: { method: "cash", ...body },
    headers: key ? { "Idempotency-Key": key } : {},
  });
}

async function stockOf(productId: string): Promise<string | undefined> {
  const [row] = await testCtx().db.select({ stock: products.stockQuantity }).from(products).where(eq(products.id, productId));
  return row?.stock;
}

describe("bill refunds", () => {
  it("refunds in parts, keeps the customer's balance unchanged, and restocks with the refund that completes it", async () => {
    const owner = await signUp("refund-parts");
    const customer = await expectJson<{ id: string }>(await call("/v1/customers", { token: owner.access_token, body: { name: "Meera" } }), 201);
    const product = await expectJson<{ id: string }>(
      await call("/v1/products", { token: owner.access_token, body: { name: "Basmati", unit: "kg", price: 2000, stock_quantity: 10 } }),
      201,
    );
    const bill = await paidBill(owner, { customerId: customer.id, productId: product.id });
    expect(await stockOf(product.id)).toBe("7.500");

    const first = await expectJson<RefundResult>(await refund(owner, bill.id, { amount: 1500, reason: "Short weight" }), 201);
    expect(first.refund).toMatchObject({ amount: 1500, restocked: false, reason: "Short weight" });
    expect(first.bill).toMatchObject({ status: "paid", amount_paid: 5000, amount_refunded: 1500 });
    await expectProblem(await refund(owner, bill.id, { amount: 1000, restock: true }), 422);

    const rest = await expectJson<RefundResult>(await refund(owner, bill.id, { amount: 3500, restock: true }), 201);
    expect(rest.bill).toMatchObject({ status: "refunded", amount_refunded: 5000 });
    expect(await stockOf(product.id)).toBe("10.000");
    const customerView = await expectJson<{ balance: number }>(await call(`/v1/customers/${customer.id}`, { token: owner.access_token }), 200);
    expect(customerView.balance).toBe(0);
    await expectProblem(await refund(owner, bill.id, { amount: 1 }), 409);
  });

  it("refuses more than was paid, and bills that are not paid", async () => {
    const owner = await signUp("refund-refuse");
    const bill = await paidBill(owner);
    const problem = await expectProblem(await refund(owner, bill.id, { amount: 5001 }), 409);
    expect(problem.detail).toContain("5000");
    const unpaid = await expectJson<Bill>(
      await call("/v1/bills", { token: owner.access_token, body: { issue: true, items: [{ description: "Visit", quantity: 1, unit_price: 900 }] } }),
      201,
    );
    await expectJson(await call(`/v1/bills/${unpaid.id}/payments`, { token: owner.access_token, body: { amount: 400, method: "cash" } }), 201);
    await expectProblem(await refund(owner, unpaid.id, { amount: 100 }), 409);
    expect(await testCtx().db.select().from(billRefunds).where(eq(billRefunds.billId, unpaid.id))).toEqual([]);
  });

  it("records a repeated Idempotency-Key once, and refuses the key for a different refund", async () => {
    const owner = await signUp("refund-idem");
    const bill = await paidBill(owner);
    const first = await expectJson<RefundResult>(await refund(owner, bill.id, { amount: 700 }, "refund-key-1"), 201);
    const again = await expectJson<RefundResult>(await refund(owner, bill.id, { amount: 700 }, "refund-key-1"), 201);
    expect(again.refund.id).toBe(first.refund.id);
    await expectProblem(await refund(owner, bill.id, { amount: 800 }, "refund-key-1"), 409);
    expect(await testCtx().db.select().from(billRefunds).where(eq(billRefunds.billId, bill.id))).toHaveLength(1);
  });

  it("never gives back more than was paid when refunds race", async () => {
    const owner = await signUp("refund-race");
    const bill = await paidBill(owner);
    const responses = await Promise.all(Array.from({ length: 12 }, () => refund(owner, bill.id, { amount: 1000 })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    const rows = await testCtx().db.select().from(billRefunds).where(eq(billRefunds.billId, bill.id));
    expect(rows.reduce((sum, r) => sum + r.amount, 0)).toBe(5000);
    expect(await expectJson<Bill>(await call(`/v1/bills/${bill.id}`, { token: owner.access_token }), 200)).toMatchObject({
      status: "refunded",
      amount_refunded: 5000,
    });
  });

  it("is for bill writers of the bill's organisation only", async () => {
    const owner = await signUp("refund-access");
    const bill = await paidBill(owner);
    const viewer = { ...(await joinOrgAs(owner, "viewer", "refund-viewer")), orgId: owner.orgId };
    await expectProblem(await refund(viewer, bill.id, { amount: 100 }), 403);
    const stranger = await signUp("refund-stranger");
    await expectProblem(await refund(stranger, bill.id, { amount: 100 }), 404);
    expect(await testCtx().db.select().from(billRefunds).where(eq(billRefunds.billId, bill.id))).toEqual([]);
  });
});
