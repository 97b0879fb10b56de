import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { billPayments, bills, products } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { testCtx } from "./harness/helpers";

interface Bill {
  id: string;
  number: string | null;
  status: string;
  total: number;
  amount_paid: number;
}

async function createBill(who: SignedUp, body: Record<string, unknown>): Promise<Bill> {
  return expectJson<Bill>(await call("/v1/bills", { token: who.access_token, orgId: who.orgId, body }), 201);
}

function issue(who: SignedUp, billId: string): Promise<Response> {
  return call(`/v1/bills/${billId}/issue`, { token: who.access_token, orgId: who.orgId, method: "POST" });
}

const statusCounts = (responses: Response[]) => ({
  ok: responses.filter((r) => r.status === 200 || r.status === 201).length,
  conflict: responses.filter((r) => r.status === 409).length,
});

describe("bills under concurrency", () => {
  it("accepts exactly five of twenty racing payments of 20.00 on a 100.00 bill", async () => {
    const owner = await signUp("race-pay");
    const bill = await createBill(owner, { items: [{ description: "Catering", quantity: 1, unit_price: 10000 }], issue: true });
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => call(`/v1/bills/${bill.id}/payments`, { token: owner.access_token, body: { amount: 2000, method: "cash" } })),
    );
    expect(statusCounts(responses)).toEqual({ ok: 5, conflict: 15 });
    const [row] = await testCtx().db.select().from(bills).where(eq(bills.id, bill.id));
    const payments = await testCtx().db.select().from(billPayments).where(eq(billPayments.billId, bill.id));
    expect(row).toMatchObject({ amountPaid: 10000, status: "paid" });
    expect(payments.reduce((sum, p) => sum + p.amount, 0)).toBe(10000);
    expect(payments).toHaveLength(5);
  });

  it("issues exactly five of twenty racing bills for a product with five in stock", async () => {
    const owner = await signUp("race-stock");
    const product = await expectJson<{ id: string }>(
      await call("/v1/products", { token: owner.access_token, body: { name: "Last units", unit: "piece", price: 500, tax_rate_bps: 0, stock_quantity: 5 } }),
      201,
    );
    const drafts = await Promise.all(Array.from({ length: 20 }, () => createBill(owner, { items: [{ product_id: product.id, quantity: 1 }] })));
    const responses = await Promise.all(drafts.map((d) => issue(owner, d.id)));
    expect(statusCounts(responses)).toEqual({ ok: 5, conflict: 15 });
    const [row] = await testCtx().db.select({ stock: products.stockQuantity }).from(products).where(eq(products.id, product.id));
    expect(row?.stock).toBe("0.000");
    const issued = (await testCtx().db.select().from(bills).where(eq(bills.orgId, owner.orgId))).filter((b) => b.status === "issued");
    // The refused issues gave their numbers back: the five issued ones hold 1..5.
    expect(issued.map((b) => b.number).sort()).toEqual(["BILL-000001", "BILL-000002", "BILL-000003", "BILL-000004", "BILL-000005"]);
  });

  it("numbers thirty racing issues 1..30 with no gap and no duplicate", async () => {
    const owner = await signUp("race-numbers");
    const drafts = await Promise.all(Array.from({ length: 30 }, () => createBill(owner, { items: [{ description: "Ticket", quantity: 1, unit_price: 100 }] })));
    const responses = await Promise.all(drafts.map((d) => issue(owner, d.id)));
    expect(statusCounts(responses).ok).toBe(30);
    const numbers = (await Promise.all(responses.map(async (r) => ((await r.json()) as Bill).number))).sort();
    expect(numbers).toEqual(Array.from({ length: 30 }, (_, i) => `BILL-${String(i + 1).padStart(6, "0")}`));
  });

  it("never takes a customer over the credit limit when their bills race", async () => {
    const owner = await signUp("race-credit");
    const clerk = { ...(await joinOrgAs(owner, "member", "race-clerk")), orgId: owner.orgId };
    const customer = await expectJson<{ id: string }>(
      await call("/v1/customers", { token: owner.access_token, body: { name: "Tab customer", credit_limit: 10000 } }),
      201,
    );
    const responses = await Promise.all(
      Array.from({ length: 12 }, () =>
        call("/v1/bills", {
          token: clerk.access_token,
          orgId: clerk.orgId,
          body: { customer_id: customer.id, items: [{ description: "Round", quantity: 1, unit_price: 3000 }], issue: true },
        }),
      ),
    );
    expect(statusCounts(responses)).toEqual({ ok: 3, conflict: 9 });
    const balance = (await expectJson<{ balance: number }>(await call(`/v1/customers/${customer.id}`, { token: owner.access_token }), 200)).balance;
    expect(balance).toBe(9000);
  });
});
