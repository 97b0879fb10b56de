import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, merchantLedger, merchantPayments, merchantPurchases, products, stockMovements } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface PurchaseItem {
  id: string;
  position: number;
  product_id: string;
  quantity: string;
  unit_cost: number;
  line_total: number;
}

interface Purchase {
  id: string;
  merchant_id: string;
  reference: string | null;
  purchased_on: string;
  notes: string | null;
  total: number;
  currency: string;
  created_by: string | null;
  created_at: string;
  items: PurchaseItem[];
}

interface Payment {
  id: string;
  merchant_id: string;
  amount: number;
  currency: string;
  method: string;
  reference: string | null;
}

interface LedgerEntry {
  id: string;
  kind: string;
  amount: number;
  balance_after: number;
  reference_type: string | null;
  reference_id: string | null;
  note: string | null;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

async function createMerchant(owner: SignedUp, body: Record<string, unknown> = {}): Promise<{ id: string; name: string }> {
  return expectJson(await call("/v1/merchants", { token: owner.access_token, body: { name: "Fresh Farms", ...body } }), 201);
}

async function createProduct(owner: SignedUp, body: Record<string, unknown>): Promise<{ id: string; name: string }> {
  return expectJson(await call("/v1/products", { token: owner.access_token, body: { price: 1000, tax_rate_bps: 0, unit: "piece", ...body } }), 201);
}

function postPurchase(who: SignedUp, merchantId: string, body: Record<string, unknown>, key?: string): Promise<Response> {
  return call(`/v1/merchants/${merchantId}/purchases`, {
    token: who.access_token,
    orgId: who.orgId,
    body,
    headers: key ? { "Idempotency-Key": key } : undefined,
  });
}

function postPayment(who: SignedUp, merchantId: string, body: Record<string, unknown>, key?: string): Promise<Response> {
  return call(`/v1/merchants/${merchantId}/payments`, {
    token: who.access_token,
    orgId: who.orgId,
    body: { method: "bank", ...body },
    headers: key ? { "Idempotency-Key": key } : undefined,
  });
}

async function owed(owner: SignedUp, merchantId: string): Promise<number> {
  return (await expectJson<{ balance_owed: number }>(await call(`/v1/merchants/${merchantId}`, { token: owner.access_token }), 200)).balance_owed;
}

async function productRow(id: string) {
  const [row] = await testCtx().db.select().from(products).where(eq(products.id, id));
  return row;
}

describe("purchases from a merchant", () => {
  it("adds fractional stock exactly, sets each product's cost, and owes the hand-computed total", async () => {
    const owner = await signUp("mpu-happy");
    const merchant = await createMerchant(owner);
    const rice = await createProduct(owner, { name: "Basmati rice", unit: "kg", stock_quantity: "1.250", cost: 1000 });
    const jars = await createProduct(owner, { name: "Jam jar", cost: 200 });
    const salt = await createProduct(owner, { name: "Rock salt", unit: "g" });
    const response = await postPurchase(owner, merchant.id, {
      reference: "FF-INV-2291",
      purchased_on: "2026-04-30",
      notes: "Monday delivery",
      items: [
        // 2.345 × 1999 = 4687.655 -> 4688
        { product_id: rice.id, quantity: "2.345", unit_cost: 1999 },
        // 3 × 250 = 750
        { product_id: jars.id, quantity: 3, unit_cost: 250 },
        // 0.5 × 3 = 1.5 -> 2 (half up)
        { product_id: salt.id, quantity: 0.5, unit_cost: 3 },
        // 0.005 × 2001 = 10.005 -> 10; the same product again, its cost is the last one paid
        { product_id: rice.id, quantity: "0.005", unit_cost: 2001 },
      ],
    });
    const purchase = await expectJson<Purchase>(response, 201);
    expect(purchase).toEqual({
      id: expect.stringMatching(/^mpu_/),
      merchant_id: merchant.id,
      reference: "FF-INV-2291",
      purchased_on: "2026-04-30",
      notes: "Monday delivery",
      total: 5450,
      currency: "USD",
      created_by: owner.user.id,
      created_at: expect.stringMatching(/Z$/),
      items: [
        { id: expect.stringMatching(/^mpi_/), position: 1, product_id: rice.id, quantity: "2.345", unit_cost: 1999, line_total: 4688 },
        { id: expect.any(String), position: 2, product_id: jars.id, quantity: "3.000", unit_cost: 250, line_total: 750 },
        { id: expect.any(String), position: 3, product_id: salt.id, quantity: "0.500", unit_cost: 3, line_total: 2 },
        { id: expect.any(String), position: 4, product_id: rice.id, quantity: "0.005", unit_cost: 2001, line_total: 10 },
      ],
    });

    expect(await productRow(rice.id)).toMatchObject({ stockQuantity: "3.600", cost: 2001 });
    expect(await productRow(jars.id)).toMatchObject({ stockQuantity: "3.000", cost: 250 });
    expect(await productRow(salt.id)).toMatchObject({ stockQuantity: "0.500", cost: 3 });
    const riceMoves = await testCtx()
      .db.select()
      .from(stockMovements)
      .where(and(eq(stockMovements.productId, rice.id), eq(stockMovements.reason, "purchase")));
    expect(riceMoves).toEqual([expect.objectContaining({ change: "2.350", quantityAfter: "3.600", createdBy: owner.user.id })]);
    expect(riceMoves[0]?.note).toContain(purchase.id);

    expect(await owed(owner, merchant.id)).toBe(5450);
    const ledger = await expectJson<Page<LedgerEntry>>(await call(`/v1/merchants/${merchant.id}/ledger`, { token: owner.access_token }), 200);
    expect(ledger.data).toEqual([
      expect.objectContaining({ kind: "purchase", amount: 5450, balance_after: 5450, reference_type: "merchant_purchase", reference_id: purchase.id }),
    ]);
    const fetched = await expectJson<Purchase>(await call(`/v1/merchants/${merchant.id}/purchases/${purchase.id}`, { token: owner.access_token }), 200);
    expect(fetched).toEqual(purchase);
    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, owner.orgId), eq(auditEvents.action, "merchant.purchase_recorded")));
    expect(audit.map((a) => a.metadata)).toEqual([{ purchase_id: purchase.id, total: 5450 }]);
  });

  it("dates a purchase today (UTC) by default and lists purchases newest first, searchable by reference", async () => {
    const owner = await signUp("mpu-list");
    const merchant = await createMerchant(owner);
    const beans = await createProduct(owner, { name: "Beans" });
    const first = await expectJson<Purchase>(
      await postPurchase(owner, merchant.id, { reference: "INV-1", items: [{ product_id: beans.id, quantity: 1, unit_cost: 100 }] }),
      201,
    );
    const second = await expectJson<Purchase>(
      await postPurchase(owner, merchant.id, { reference: "INV-2", items: [{ product_id: beans.id, quantity: 2, unit_cost: 100 }] }),
      201,
    );
    expect(first.purchased_on).toBe(new Date().toISOString().slice(0, 10));
    const page1 = await expectJson<Page<Purchase>>(await call(`/v1/merchants/${merchant.id}/purchases?limit=1`, { token: owner.access_token }), 200);
    expect(page1.data.map((p) => p.id)).toEqual([second.id]);
    expect(page1.data[0]?.items).toHaveLength(1);
    const page2 = await expectJson<Page<Purchase>>(
      await call(`/v1/merchants/${merchant.id}/purchases?limit=1&cursor=${page1.next_cursor}`, { token: owner.access_token }),
      200,
    );
    expect(page2).toEqual({ data: [expect.objectContaining({ id: first.id })], next_cursor: null });
    const found = await expectJson<Page<Purchase>>(await call(`/v1/merchants/${merchant.id}/purchases?q=inv-1`, { token: owner.access_token }), 200);
    expect(found.data.map((p) => p.id)).toEqual([first.id]);
  });

  it("records a purchase once for racing repeats of one Idempotency-Key, stock included", async () => {
    const owner = await signUp("mpu-idem");
    const merchant = await createMerchant(owner);
    const flour = await createProduct(owner, { name: "Flour", unit: "kg", stock_quantity: "10" });
    const body = { items: [{ product_id: flour.id, quantity: "2.5", unit_cost: 400 }] };
    const responses = await Promise.all(Array.from({ length: 5 }, () => postPurchase(owner, merchant.id, body, "delivery-77")));
    const purchases = await Promise.all(responses.map((r) => expectJson<Purchase>(r, 201)));
    expect(new Set(purchases.map((p) => p.id)).size).toBe(1);
    const again = await expectJson<Purchase>(await postPurchase(owner, merchant.id, body, "delivery-77"), 201);
    expect(again).toEqual(purchases[0]);
    expect(await productRow(flour.id)).toMatchObject({ stockQuantity: "12.500" });
    expect(await testCtx().db.select().from(merchantPurchases).where(eq(merchantPurchases.orgId, owner.orgId))).toHaveLength(1);
    expect(await owed(owner, merchant.id)).toBe(1000);

    const other = await createMerchant(owner, { name: "Other Farms" });
    const reused = await expectProblem(await postPurchase(owner, other.id, body, "delivery-77"), 409);
    expect(reused.detail).toContain("another merchant");
    expect(await productRow(flour.id)).toMatchObject({ stockQuantity: "12.500" });
  });

  it("refuses unknown, archived and other organisations' products with each item's path, changing nothing", async () => {
    const owner = await signUp("mpu-422");
    const stranger = await signUp("mpu-422-other");
    const merchant = await createMerchant(owner);
    const good = await createProduct(owner, { name: "Good", stock_quantity: "4" });
    const archived = await createProduct(owner, { name: "Old stock" });
    expect((await call(`/v1/products/${archived.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    const theirs = await createProduct(stranger, { name: "Theirs" });
    const refused = await expectProblem(
      await postPurchase(owner, merchant.id, {
        items: [
          { product_id: good.id, quantity: 1, unit_cost: 100 },
          { product_id: "prod_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", quantity: 1, unit_cost: 100 },
          { product_id: archived.id, quantity: 1, unit_cost: 100 },
          { product_id: theirs.id, quantity: 1, unit_cost: 100 },
        ],
      }),
      422,
    );
    expect(refused.errors?.map((e) => e.path)).toEqual(["items.1.product_id", "items.2.product_id", "items.3.product_id"]);

    const invalid = await expectProblem(
      await postPurchase(owner, merchant.id, {
        purchased_on: "2026-02-30",
        items: [
          { product_id: good.id, quantity: 0, unit_cost: 100 },
          { product_id: good.id, quantity: "-1", unit_cost: 100 },
          { product_id: good.id, quantity: "1.2345", unit_cost: 100 },
          { product_id: good.id, quantity: 1, unit_cost: -5 },
          { product_id: good.id, quantity: 1, unit_cost: 10.5 },
        ],
      }),
      422,
    );
    expect(invalid.errors?.map((e) => e.path).sort()).toEqual([
      "items.0.quantity",
      "items.1.quantity",
      "items.2.quantity",
      "items.3.unit_cost",
      "items.4.unit_cost",
      "purchased_on",
    ]);
    const empty = await expectProblem(await postPurchase(owner, merchant.id, { items: [] }), 422);
    expect(empty.errors?.map((e) => e.path)).toEqual(["items"]);

    expect(await productRow(good.id)).toMatchObject({ stockQuantity: "4.000", cost: null });
    expect(await productRow(theirs.id)).toMatchObject({ stockQuantity: "0.000" });
    expect(await testCtx().db.select().from(merchantPurchases).where(eq(merchantPurchases.orgId, owner.orgId))).toEqual([]);
    expect(await owed(owner, merchant.id)).toBe(0);
  });

  it("refuses a purchase from an archived merchant with 409, changing nothing", async () => {
    const owner = await signUp("mpu-archived");
    const merchant = await createMerchant(owner);
    const product = await createProduct(owner, { name: "Tea", stock_quantity: "1" });
    expect((await call(`/v1/merchants/${merchant.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    const refused = await expectProblem(await postPurchase(owner, merchant.id, { items: [{ product_id: product.id, quantity: 5, unit_cost: 10 }] }), 409);
    expect(refused.detail).toContain("archived");
    expect(await productRow(product.id)).toMatchObject({ stockQuantity: "1.000", cost: null });
    expect(await testCtx().db.select().from(merchantLedger).where(eq(merchantLedger.merchantId, merchant.id))).toEqual([]);
  });

  it("lets a key holding only merchants permissions buy stock it cannot otherwise touch", async () => {
    const owner = await signUp("mpu-scoped");
    const merchant = await createMerchant(owner);
    const product = await createProduct(owner, { name: "Oil", unit: "l" });
    const { key } = await expectJson<{ key: string }>(
      await call("/v1/api-keys", { token: owner.access_token, body: { name: "purchasing", permissions: ["merchants:read", "merchants:write"] } }),
      201,
    );
    await expectProblem(await call(`/v1/products/${product.id}`, { token: key }), 403);
    const bought = await call(`/v1/merchants/${merchant.id}/purchases`, {
      token: key,
      body: { items: [{ product_id: product.id, quantity: "1.75", unit_cost: 900 }] },
    });
    expect((await expectJson<Purchase>(bought, 201)).total).toBe(1575);
    expect(await productRow(product.id)).toMatchObject({ stockQuantity: "1.750", cost: 900 });
  });
});

describe("payments to a merchant", () => {
  it("reduces what we owe, refuses paying more unless it is an advance, and keeps a running ledger", async () => {
    const owner = await signUp("mpy-flow");
    const merchant = await createMerchant(owner, { opening_balance: 3000 });
    const product = await createProduct(owner, { name: "Sugar", unit: "kg" });
    await expectJson<Purchase>(await postPurchase(owner, merchant.id, { items: [{ product_id: product.id, quantity: "4", unit_cost: 500 }] }), 201);
    expect(await owed(owner, merchant.id)).toBe(5000);

    const paid = await expectJson<{ payment: Payment; merchant: { balance_owed: number } }>(
      await postPayment(owner, merchant.id, { amount: 2000, method: "upi", reference: "UPI-1" }),
      201,
    );
    expect(paid.payment).toMatchObject({
      id: expect.stringMatching(/^mpy_/),
      merchant_id: merchant.id,
      amount: 2000,
      currency: "USD",
      method: "upi",
      reference: "UPI-1",
    });
    expect(paid.merchant.balance_owed).toBe(3000);

    const over = await expectProblem(await postPayment(owner, merchant.id, { amount: 3001 }), 409);
    expect(over.detail).toContain("We owe Fresh Farms 3000");
    expect(await owed(owner, merchant.id)).toBe(3000);

    const ahead = await expectJson<{ merchant: { balance_owed: number } }>(await postPayment(owner, merchant.id, { amount: 4000, advance: true }), 201);
    expect(ahead.merchant.balance_owed).toBe(-1000);
    expect(await owed(owner, merchant.id)).toBe(-1000);
    // Nothing is owed while an advance is held: any further payment is one more advance.
    await expectProblem(await postPayment(owner, merchant.id, { amount: 1 }), 409);

    const ledger = await expectJson<Page<LedgerEntry>>(await call(`/v1/merchants/${merchant.id}/ledger?limit=3`, { token: owner.access_token }), 200);
    expect(ledger.data.map((e) => [e.kind, e.amount, e.balance_after])).toEqual([
      ["payment", -4000, -1000],
      ["payment", -2000, 3000],
      ["purchase", 2000, 5000],
    ]);
    const older = await expectJson<Page<LedgerEntry>>(
      await call(`/v1/merchants/${merchant.id}/ledger?limit=3&cursor=${ledger.next_cursor}`, { token: owner.access_token }),
      200,
    );
    expect(older.data.map((e) => [e.kind, e.amount, e.balance_after])).toEqual([["opening_balance", 3000, 3000]]);
    expect(older.next_cursor).toBeNull();

    const payments = await expectJson<Page<Payment>>(await call(`/v1/merchants/${merchant.id}/payments`, { token: owner.access_token }), 200);
    expect(payments.data.map((p) => p.amount)).toEqual([4000, 2000]);
  });

  it("lists only merchants we still owe once one is paid off", async () => {
    const owner = await signUp("mpy-owing");
    const paidOff = await createMerchant(owner, { name: "Paid off", opening_balance: 700 });
    const stillOwed = await createMerchant(owner, { name: "Still owed", opening_balance: 900 });
    await expectJson(await postPayment(owner, paidOff.id, { amount: 700 }), 201);
    const owing = await expectJson<Page<{ id: string; balance_owed: number }>>(await call("/v1/merchants?owing=true", { token: owner.access_token }), 200);
    expect(owing.data.map((m) => [m.id, m.balance_owed])).toEqual([[stillOwed.id, 900]]);
  });

  it("accepts exactly five of twenty racing payments of 10.00 against 50.00 owed", async () => {
    const owner = await signUp("mpy-race");
    const merchant = await createMerchant(owner, { opening_balance: 5000 });
    const responses = await Promise.all(Array.from({ length: 20 }, () => postPayment(owner, merchant.id, { amount: 1000 })));
    expect(responses.map((r) => r.status).sort()).toEqual([...Array(5).fill(201), ...Array(15).fill(409)]);
    expect(await owed(owner, merchant.id)).toBe(0);
    const rows = await testCtx().db.select().from(merchantPayments).where(eq(merchantPayments.merchantId, merchant.id));
    expect(rows.reduce((sum, p) => sum + p.amount, 0)).toBe(5000);
    expect(rows).toHaveLength(5);
  });

  it("records a payment once for a repeated Idempotency-Key", async () => {
    const owner = await signUp("mpy-idem");
    const merchant = await createMerchant(owner, { opening_balance: 5000 });
    const responses = await Promise.all(Array.from({ length: 4 }, () => postPayment(owner, merchant.id, { amount: 1500 }, "settle-1")));
    const results = await Promise.all(responses.map((r) => expectJson<{ payment: Payment }>(r, 201)));
    expect(new Set(results.map((r) => r.payment.id)).size).toBe(1);
    expect(await owed(owner, merchant.id)).toBe(3500);
    expect(await testCtx().db.select().from(merchantPayments).where(eq(merchantPayments.merchantId, merchant.id))).toHaveLength(1);
  });

  it("pays an archived merchant what we still owe it", async () => {
    const owner = await signUp("mpy-archived");
    const merchant = await createMerchant(owner, { opening_balance: 800 });
    expect((await call(`/v1/merchants/${merchant.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    await expectJson(await postPayment(owner, merchant.id, { amount: 800 }), 201);
    expect(await owed(owner, merchant.id)).toBe(0);
  });
});

describe("merchant purchases and payments access", () => {
  it("lets a viewer read purchases, payments and the ledger but not record either", async () => {
    const owner = await signUp("mpx-viewer-owner");
    const viewer = { ...(await joinOrgAs(owner, "viewer", "mpx-viewer")), orgId: owner.orgId };
    const merchant = await createMerchant(owner, { opening_balance: 1000 });
    const product = await createProduct(owner, { name: "Rice", unit: "kg" });
    const purchase = await expectJson<Purchase>(
      await postPurchase(owner, merchant.id, { items: [{ product_id: product.id, quantity: 1, unit_cost: 100 }] }),
      201,
    );
    const opts = { token: viewer.access_token, orgId: owner.orgId };
    for (const path of ["purchases", `purchases/${purchase.id}`, "payments", "ledger"]) {
      expect((await call(`/v1/merchants/${merchant.id}/${path}`, opts)).status, path).toBe(200);
    }
    await expectProblem(await postPurchase(viewer, merchant.id, { items: [{ product_id: product.id, quantity: 1, unit_cost: 100 }] }), 403);
    await expectProblem(await postPayment(viewer, merchant.id, { amount: 100 }), 403);
    expect(await owed(owner, merchant.id)).toBe(1100);
    expect(await productRow(product.id)).toMatchObject({ stockQuantity: "1.000" });
  });

  it("answers 404 for another organisation's merchant and purchases, changing nothing", async () => {
    const a = await signUp("mpx-404-a");
    const b = await signUp("mpx-404-b");
    const merchant = await createMerchant(a, { opening_balance: 1000 });
    const product = await createProduct(a, { name: "A's rice" });
    const purchase = await expectJson<Purchase>(await postPurchase(a, merchant.id, { items: [{ product_id: product.id, quantity: 1, unit_cost: 100 }] }), 201);
    for (const path of ["purchases", `purchases/${purchase.id}`, "payments", "ledger"]) {
      await expectProblem(await call(`/v1/merchants/${merchant.id}/${path}`, { token: b.access_token }), 404);
    }
    await expectProblem(await postPurchase(b, merchant.id, { items: [{ product_id: product.id, quantity: 1, unit_cost: 100 }] }), 404);
    await expectProblem(await postPayment(b, merchant.id, { amount: 100 }), 404);
    // A purchase is only found under its own merchant.
    const bMerchant = await createMerchant(b);
    await expectProblem(await call(`/v1/merchants/${bMerchant.id}/purchases/${purchase.id}`, { token: b.access_token }), 404);
    const other = await createMerchant(a, { name: "Other" });
    await expectProblem(await call(`/v1/merchants/${other.id}/purchases/${purchase.id}`, { token: a.access_token }), 404);
    expect(await owed(a, merchant.id)).toBe(1100);
    expect(await productRow(product.id)).toMatchObject({ stockQuantity: "1.000" });
  });
});
