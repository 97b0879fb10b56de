import { and, eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { billPayments, bills, customerLedger, messages, products, stockMovements } from "../src/db/schema";
import { sendOverdueReminders } from "../src/modules/retail/bills/reminders";
import { call, expectJson, joinOrgAs, type SignedUp, signUp, uniqueEmail } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface BillItem {
  id: string;
  position: number;
  product_id: string | null;
  description: string;
  quantity: string;
  unit: string;
  unit_price: number;
  discount: number;
  tax_rate_bps: number;
  line_subtotal: number;
  line_tax: number;
  line_total: number;
}

interface Bill {
  id: string;
  number: string | null;
  status: string;
  customer_id: string | null;
  currency: string;
  subtotal: number;
  discount: number;
  tax: number;
  total: number;
  amount_paid: number;
  amount_refunded: number;
  balance_due: number;
  prices_include_tax: boolean;
  due_date: string | null;
  notes: string | null;
  issued_at: string | null;
  voided_at: string | null;
  items: BillItem[];
}

interface Payment {
  id: string;
  bill_id: string;
  amount: number;
  method: string;
  reference: string | null;
}

async function createProduct(owner: SignedUp, body: Record<string, unknown>): Promise<{ id: string; name: string }> {
  return expectJson(await call("/v1/products", { token: owner.access_token, body: { unit: "piece", price: 1000, tax_rate_bps: 0, ...body } }), 201);
}

async function createCustomer(owner: SignedUp, body: Record<string, unknown> = {}): Promise<{ id: string }> {
  return expectJson(await call("/v1/customers", { token: owner.access_token, body: { name: "Asha Traders", ...body } }), 201);
}

function postBill(who: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/bills", { token: who.access_token, orgId: who.orgId, body });
}

async function createBill(who: SignedUp, body: Record<string, unknown>): Promise<Bill> {
  return expectJson<Bill>(await postBill(who, body), 201);
}

function pay(who: SignedUp, billId: string, body: Record<string, unknown>, key?: string): Promise<Response> {
  return call(`/v1/bills/${billId}/payments`, { token: who.access_token, orgId: who.orgId, body, headers: key ? { "Idempotency-Key": key } : {} });
}

async function stockOf(productId: string): Promise<string> {
  const [row] = await testCtx().db.select({ stock: products.stockQuantity }).from(products).where(eq(products.id, productId));
  return row?.stock ?? "missing";
}

async function balanceOf(owner: SignedUp, customerId: string): Promise<number> {
  return (await expectJson<{ balance: number }>(await call(`/v1/customers/${customerId}`, { token: owner.access_token }), 200)).balance;
}

const line = (quantity: string | number, unit_price: number, extra: Record<string, unknown> = {}) => ({
  description: "Service",
  quantity,
  unit_price,
  ...extra,
});

/**
 * Hand-computed: gross = round_half_up(quantity × unit_price), net = gross − line discount,
 * tax = round_half_up(net × bps / 10000); total = Σnet − bill discount + Σtax.
 */
const MONEY_FIXTURES: {
  name: string;
  items: Record<string, unknown>[];
  discount?: number;
  lines: [number, number, number][];
  totals: [number, number, number, number];
}[] = [
  // 0.333 × 1000 = 333; 333 × 5% = 16.65 -> 17
  { name: "a fractional quantity with tax", items: [line("0.333", 1000, { tax_rate_bps: 500 })], lines: [[333, 17, 350]], totals: [333, 0, 17, 350] },
  // 1.005 × 199 = 199.995 -> 200; −50 = 150; 150 × 12.5% = 18.75 -> 19
  {
    name: "half a minor unit rounds up, then a line discount",
    items: [line("1.005", 199, { discount: 50, tax_rate_bps: 1250 })],
    lines: [[150, 19, 169]],
    totals: [150, 0, 19, 169],
  },
  // 3 × 999 = 2997 − 97 = 2900, tax 18% = 522; 0.75 × 2001 = 1500.75 -> 1501, no tax; bill discount 401
  {
    name: "two lines and a bill discount that leaves line taxes alone",
    items: [line("3", 999, { discount: 97, tax_rate_bps: 1800 }), line("0.75", 2001)],
    discount: 401,
    lines: [
      [2900, 522, 3422],
      [1501, 0, 1501],
    ],
    totals: [4401, 401, 522, 4522],
  },
  // 0.001 × 499 = 0.499 -> 0; 0.001 × 500 = 0.5 -> 1, tax 18% of 1 = 0.18 -> 0
  {
    name: "tiny quantities round to the nearest minor unit",
    items: [line("0.001", 499, { tax_rate_bps: 1800 }), line("0.001", 500, { tax_rate_bps: 1800 })],
    lines: [
      [0, 0, 0],
      [1, 0, 1],
    ],
    totals: [1, 0, 0, 1],
  },
  // 12.345 × 1234 = 15233.73 -> 15234 − 234 = 15000; 28% = 4200; bill discount 1000
  {
    name: "a large line with a discount and a bill discount",
    items: [line(12.345, 1234, { discount: 234, tax_rate_bps: 2800 })],
    discount: 1000,
    lines: [[15000, 4200, 19200]],
    totals: [15000, 1000, 4200, 18200],
  },
];

/**
 * Tax-inclusive, hand-computed: net = round_half_up(quantity × unit_price) − line discount is what
 * the customer pays; tax = round_half_up(net × bps / (10000 + bps)); line_subtotal = net − tax.
 */
const INCLUSIVE_FIXTURES: typeof MONEY_FIXTURES = [
  // 1180 at 18%: tax = 1180 × 1800 / 11800 = 180 exactly
  { name: "an exact inclusive price", items: [line("1", 1180, { tax_rate_bps: 1800 })], lines: [[1000, 180, 1180]], totals: [1000, 0, 180, 1180] },
  // 3 × 333 = 999 at 5%: 999 × 500 / 10500 = 47.57 -> 48
  { name: "inclusive tax rounded to the nearest unit", items: [line("3", 333, { tax_rate_bps: 500 })], lines: [[951, 48, 999]], totals: [951, 0, 48, 999] },
  // 3 at 100%: 3 × 10000 / 20000 = 1.5 -> 2 (half up)
  { name: "an inclusive half unit rounding up", items: [line("1", 3, { tax_rate_bps: 10000 })], lines: [[1, 2, 3]], totals: [1, 0, 2, 3] },
  // 0.75 × 2001 = 1500.75 -> 1501 − 101 = 1400 at 12%: 1400 × 1200 / 11200 = 150; 2 × 550 = 1100 untaxed;
  // bill discount 300 comes off the total only: 2350 − 300 + 150 = 2200 = 1400 + 1100 − 300
  {
    name: "an inclusive fractional line with a discount, an untaxed line and a bill discount",
    items: [line("0.75", 2001, { discount: 101, tax_rate_bps: 1200, unit: "kg" }), line("2", 550)],
    discount: 300,
    lines: [
      [1250, 150, 1400],
      [1100, 0, 1100],
    ],
    totals: [2350, 300, 150, 2200],
  },
];

describe("bill totals", () => {
  it.each(MONEY_FIXTURES)("computes $name", async (fixture) => {
    const owner = await signUp("bill-money");
    const bill = await createBill(owner, { items: fixture.items, discount: fixture.discount });
    expect(bill.items.map((i) => [i.line_subtotal, i.line_tax, i.line_total])).toEqual(fixture.lines);
    const [subtotal, discount, tax, total] = fixture.totals;
    expect(bill).toMatchObject({ status: "draft", number: null, subtotal, discount, tax, total, amount_paid: 0, balance_due: total });
    const [row] = await testCtx().db.select().from(bills).where(eq(bills.id, bill.id));
    expect(row).toMatchObject({ subtotal, discount, tax, total });
  });

  it.each(INCLUSIVE_FIXTURES)("computes $name with tax-inclusive prices", async (fixture) => {
    const owner = await signUp("bill-money-inclusive");
    await expectJson(await call(`/v1/orgs/${owner.orgId}`, { method: "PATCH", token: owner.access_token, body: { prices_include_tax: true } }), 200);
    const bill = await createBill(owner, { items: fixture.items, discount: fixture.discount });
    expect(bill.items.map((i) => [i.line_subtotal, i.line_tax, i.line_total])).toEqual(fixture.lines);
    const [subtotal, discount, tax, total] = fixture.totals;
    expect(bill).toMatchObject({ prices_include_tax: true, subtotal, discount, tax, total, balance_due: total });
  });

  it("keeps the pricing rule a bill was created with when the organisation changes it", async () => {
    const owner = await signUp("bill-money-setting");
    const before = await createBill(owner, { items: [line("1", 1180, { tax_rate_bps: 1800 })] });
    await expectJson(await call(`/v1/orgs/${owner.orgId}`, { method: "PATCH", token: owner.access_token, body: { prices_include_tax: true } }), 200);
    const after = await createBill(owner, { items: [line("1", 1180, { tax_rate_bps: 1800 })] });
    // 1180 + 18% = 212.4 -> 212 on top before; 180 inside after.
    expect(before).toMatchObject({ prices_include_tax: false, subtotal: 1180, tax: 212, total: 1392 });
    expect(after).toMatchObject({ prices_include_tax: true, subtotal: 1000, tax: 180, total: 1180 });
    const reread = await expectJson<Bill>(await call(`/v1/bills/${before.id}`, { token: owner.access_token }), 200);
    expect(reread).toMatchObject({ prices_include_tax: false, total: 1392 });
  });

  it("takes name, unit, price and tax rate from a product, and lets unit_price override the price", async () => {
    const owner = await signUp("bill-product");
    const product = await createProduct(owner, { name: "Arabica beans", unit: "kg", price: 1850, tax_rate_bps: 1800, stock_quantity: 10 });
    const bill = await createBill(owner, {
      items: [
        { product_id: product.id, quantity: "2.5" },
        { product_id: product.id, quantity: 1, unit_price: 1500 },
      ],
    });
    // 2.5 × 1850 = 4625, 18% = 832.5 -> 833; 1 × 1500 = 1500, 18% = 270
    expect(bill.items[0]).toMatchObject({
      description: "Arabica beans",
      unit: "kg",
      quantity: "2.500",
      unit_price: 1850,
      tax_rate_bps: 1800,
      line_subtotal: 4625,
      line_tax: 833,
      line_total: 5458,
    });
    expect(bill.items[1]).toMatchObject({ unit_price: 1500, line_total: 1770 });
    expect(bill).toMatchObject({ subtotal: 6125, tax: 1103, total: 7228, currency: expect.any(String) });
    expect(await stockOf(product.id)).toBe("10.000");
  });

  it("refuses a line discount above the line, a bill discount above the subtotal, and a line without a price", async () => {
    const owner = await signUp("bill-refuse");
    await expectProblem(await postBill(owner, { items: [line("1", 100, { discount: 101 })] }), 422);
    await expectProblem(await postBill(owner, { items: [line("1", 100)], discount: 101 }), 422);
    await expectProblem(await postBill(owner, { items: [{ description: "No price", quantity: 1 }] }), 422);
    await expectProblem(await postBill(owner, { items: [line("0", 100)] }), 422);
    expect(await testCtx().db.select().from(bills).where(eq(bills.createdBy, owner.user.id))).toEqual([]);
  });
});

describe("issuing bills", () => {
  it("numbers issued bills BILL-000001, BILL-000002, and a draft has no number until issued", async () => {
    const owner = await signUp("bill-numbers");
    const first = await createBill(owner, { items: [line("1", 100)], issue: true });
    const draft = await createBill(owner, { items: [line("1", 100)] });
    expect(first).toMatchObject({ number: "BILL-000001", status: "issued" });
    expect(first.issued_at).not.toBeNull();
    expect(draft.number).toBeNull();
    const issued = await expectJson<Bill>(await call(`/v1/bills/${draft.id}/issue`, { token: owner.access_token, method: "POST" }), 200);
    expect(issued).toMatchObject({ number: "BILL-000002", status: "issued" });
    await expectProblem(await call(`/v1/bills/${draft.id}/issue`, { token: owner.access_token, method: "POST" }), 409);
  });

  it("takes stock when issued, and refuses a short product naming it while the whole issue rolls back", async () => {
    const owner = await signUp("bill-stock");
    const plenty = await createProduct(owner, { name: "Rice 1kg", stock_quantity: 10 });
    const scarce = await createProduct(owner, { name: "Saffron 1g", stock_quantity: "0.5" });
    const customer = await createCustomer(owner);
    const draft = await createBill(owner, {
      customer_id: customer.id,
      items: [
        { product_id: plenty.id, quantity: 2 },
        { product_id: scarce.id, quantity: 1 },
      ],
    });
    const refused = await expectProblem(await call(`/v1/bills/${draft.id}/issue`, { token: owner.access_token, method: "POST" }), 409);
    expect(refused.detail).toContain("Saffron 1g");
    expect(await stockOf(plenty.id)).toBe("10.000");
    expect(await balanceOf(owner, customer.id)).toBe(0);
    expect((await expectJson<Bill>(await call(`/v1/bills/${draft.id}`, { token: owner.access_token }), 200)).status).toBe("draft");

    const sold = await createBill(owner, { customer_id: customer.id, items: [{ product_id: plenty.id, quantity: "2.25" }], issue: true });
    // The refused issue gave its number back.
    expect(sold.number).toBe("BILL-000001");
    expect(await stockOf(plenty.id)).toBe("7.750");
    expect(await balanceOf(owner, customer.id)).toBe(sold.total);
    const moves = await testCtx()
      .db.select()
      .from(stockMovements)
      .where(and(eq(stockMovements.productId, plenty.id), eq(stockMovements.reason, "sale")));
    expect(moves.map((m) => m.change)).toEqual(["-2.250"]);
  });

  it("refuses a bill over the customer's credit limit naming it, unless the caller may override credit", async () => {
    const owner = await signUp("bill-credit");
    // A member may write bills but not override credit; it acts in the owner's organisation.
    const clerk = { ...(await joinOrgAs(owner, "member", "bill-clerk")), orgId: owner.orgId };
    const customer = await createCustomer(owner, { credit_limit: 10000 });
    await createBill(clerk, { customer_id: customer.id, items: [line("1", 6000)], issue: true });
    const refused = await expectProblem(await postBill(clerk, { customer_id: customer.id, items: [line("1", 5000)], issue: true }), 409);
    expect(refused.detail).toContain("10000");
    expect(await balanceOf(owner, customer.id)).toBe(6000);
    // `issue: true` is all or nothing: no draft was left behind.
    expect(await testCtx().db.select().from(bills).where(eq(bills.customerId, customer.id))).toHaveLength(1);

    const overridden = await createBill(owner, { customer_id: customer.id, items: [line("1", 5000)], issue: true });
    expect(overridden.status).toBe("issued");
    expect(await balanceOf(owner, customer.id)).toBe(11000);
  });
});

describe("bill payments", () => {
  it("moves a bill through partially_paid to paid and credits the customer's ledger", async () => {
    const owner = await signUp("bill-pay");
    const customer = await createCustomer(owner);
    const bill = await createBill(owner, { customer_id: customer.id, items: [line("1", 10000)], issue: true });
    const first = await expectJson<{ payment: Payment; bill: Bill }>(await pay(owner, bill.id, { amount: 4000, method: "cash" }), 201);
    expect(first.payment).toMatchObject({ amount: 4000, method: "cash", bill_id: bill.id });
    expect(first.bill).toMatchObject({ status: "partially_paid", amount_paid: 4000, balance_due: 6000 });
    await expectProblem(await pay(owner, bill.id, { amount: 6001, method: "upi" }), 409);
    const second = await expectJson<{ payment: Payment; bill: Bill }>(await pay(owner, bill.id, { amount: 6000, method: "upi", reference: "UPI-1" }), 201);
    expect(second.bill).toMatchObject({ status: "paid", amount_paid: 10000, balance_due: 0 });
    expect(await balanceOf(owner, customer.id)).toBe(0);
    const entries = await testCtx()
      .db.select()
      .from(customerLedger)
      .where(and(eq(customerLedger.customerId, customer.id), eq(customerLedger.kind, "payment")));
    expect(entries.map((e) => e.amount).sort((x, y) => x - y)).toEqual([-6000, -4000]);
    await expectProblem(await pay(owner, bill.id, { amount: 1, method: "cash" }), 409);
  });

  it("keeps an excess as customer credit only when asked to", async () => {
    const owner = await signUp("bill-excess");
    const customer = await createCustomer(owner);
    const bill = await createBill(owner, { customer_id: customer.id, items: [line("1", 1000)], issue: true });
    await expectProblem(await pay(owner, bill.id, { amount: 1500, method: "cash" }), 409);
    const paid = await expectJson<{ payment: Payment; bill: Bill }>(await pay(owner, bill.id, { amount: 1500, method: "cash", excess_to_credit: true }), 201);
    expect(paid.bill).toMatchObject({ status: "paid", amount_paid: 1000 });
    expect(paid.payment.amount).toBe(1500);
    expect(await balanceOf(owner, customer.id)).toBe(-500);
  });

  it("answers a repeated Idempotency-Key with the first payment and records it once", async () => {
    const owner = await signUp("bill-idem");
    const bill = await createBill(owner, { items: [line("1", 5000)], issue: true });
    const first = await expectJson<{ payment: Payment }>(await pay(owner, bill.id, { amount: 1000, method: "card" }, "pay-1"), 201);
    const again = await expectJson<{ payment: Payment; bill: Bill }>(await pay(owner, bill.id, { amount: 1000, method: "card" }, "pay-1"), 201);
    expect(again.payment.id).toBe(first.payment.id);
    expect(again.bill.amount_paid).toBe(1000);
    await expectProblem(await pay(owner, bill.id, { amount: 2000, method: "card" }, "pay-1"), 409);
    expect(await testCtx().db.select().from(billPayments).where(eq(billPayments.billId, bill.id))).toHaveLength(1);
  });

  it("refuses a payment on a draft", async () => {
    const owner = await signUp("bill-pay-draft");
    const bill = await createBill(owner, { items: [line("1", 5000)] });
    await expectProblem(await pay(owner, bill.id, { amount: 1000, method: "cash" }), 409);
  });
});

describe("voiding bills", () => {
  it("returns the stock and takes the charge off the customer's ledger", async () => {
    const owner = await signUp("bill-void");
    const product = await createProduct(owner, { name: "Tea 250g", price: 400, stock_quantity: 5 });
    const customer = await createCustomer(owner);
    const bill = await createBill(owner, { customer_id: customer.id, items: [{ product_id: product.id, quantity: 3 }], issue: true });
    await pay(owner, bill.id, { amount: 200, method: "cash" });
    expect(await stockOf(product.id)).toBe("2.000");
    const voided = await expectJson<Bill>(await call(`/v1/bills/${bill.id}/void`, { token: owner.access_token, method: "POST" }), 200);
    expect(voided).toMatchObject({ status: "void", balance_due: 0 });
    expect(voided.voided_at).not.toBeNull();
    expect(await stockOf(product.id)).toBe("5.000");
    // The 200 already paid stays with the customer as credit.
    expect(await balanceOf(owner, customer.id)).toBe(-200);
    await expectProblem(await call(`/v1/bills/${bill.id}/void`, { token: owner.access_token, method: "POST" }), 409);
  });

  it("refuses to void a paid bill: it is refunded instead", async () => {
    const owner = await signUp("bill-void-paid");
    const bill = await createBill(owner, { items: [line("1", 1000)], issue: true });
    await pay(owner, bill.id, { amount: 1000, method: "cash" });
    const refused = await expectProblem(await call(`/v1/bills/${bill.id}/void`, { token: owner.access_token, method: "POST" }), 409);
    expect(refused.detail).toContain("refund");
  });
});

describe("reading bills", () => {
  it("lists bills newest first, filtered by status, customer and text", async () => {
    const owner = await signUp("bill-list");
    const customer = await createCustomer(owner);
    const a = await createBill(owner, { items: [line("1", 100)], notes: "first visit" });
    const b = await createBill(owner, { customer_id: customer.id, items: [line("1", 100)], issue: true });
    const all = await expectJson<{ data: Bill[]; next_cursor: string | null }>(await call("/v1/bills?limit=1", { token: owner.access_token }), 200);
    expect(all.data.map((x) => x.id)).toEqual([b.id]);
    const next = await expectJson<{ data: Bill[] }>(await call(`/v1/bills?limit=1&cursor=${all.next_cursor}`, { token: owner.access_token }), 200);
    expect(next.data.map((x) => x.id)).toEqual([a.id]);
    expect(next.data[0]?.items).toHaveLength(1);
    const drafts = await expectJson<{ data: Bill[] }>(await call("/v1/bills?status=draft", { token: owner.access_token }), 200);
    expect(drafts.data.map((x) => x.id)).toEqual([a.id]);
    const theirs = await expectJson<{ data: Bill[] }>(await call(`/v1/bills?customer_id=${customer.id}`, { token: owner.access_token }), 200);
    expect(theirs.data.map((x) => x.id)).toEqual([b.id]);
    const found = await expectJson<{ data: Bill[] }>(await call("/v1/bills?q=BILL-000001", { token: owner.access_token }), 200);
    expect(found.data.map((x) => x.id)).toEqual([b.id]);
  });

  it("lets a viewer read bills but not create them", async () => {
    const owner = await signUp("bill-owner");
    const viewer = { ...(await joinOrgAs(owner, "viewer", "bill-viewer")), orgId: owner.orgId };
    const bill = await createBill(owner, { items: [line("1", 100)] });
    await expectJson<Bill>(await call(`/v1/bills/${bill.id}`, { token: viewer.access_token, orgId: owner.orgId }), 200);
    await expectProblem(await postBill(viewer, { items: [line("1", 100)] }), 403);
    await expectProblem(await call(`/v1/bills/${bill.id}/issue`, { token: viewer.access_token, orgId: owner.orgId, method: "POST" }), 403);
  });

  it("hides another organisation's bill", async () => {
    const owner = await signUp("bill-org-a");
    const other = await signUp("bill-org-b");
    const bill = await createBill(owner, { items: [line("1", 100)] });
    await expectProblem(await call(`/v1/bills/${bill.id}`, { token: other.access_token }), 404);
    await expectProblem(await pay(other, bill.id, { amount: 100, method: "cash" }), 404);
  });
});

interface Payment {
  payment: { id: string };
  bill: { id: string; status: string };
}

/** An issued bill of 12.00 to a customer reachable at `email`. */
async function billFor(owner: SignedUp, email: string): Promise<{ id: string; number: string }> {
  const customer = await expectJson<{ id: string }>(await call("/v1/customers", { token: owner.access_token, body: { name: "Regular", email } }), 201);
  const body = { customer_id: customer.id, items: [{ description: "Rice 5kg", quantity: 1, unit_price: 1200 }], issue: true };
  return expectJson(await call("/v1/bills", { token: owner.access_token, body }), 201);
}

async function receiptsOf(billId: string) {
  const db = testCtx().db;
  const payments = await db.select({ id: billPayments.id }).from(billPayments).where(eq(billPayments.billId, billId));
  if (payments.length === 0) return [];
  return db
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.entityType, "bill_payment"),
        inArray(
          messages.entityId,
          payments.map((p) => p.id),
        ),
      ),
    );
}

describe("payment receipts", () => {
  it("send one receipt naming the amount, what is still owed and the bill link, even when the request is retried", async () => {
    const owner = await signUp("receipt");
    const email = uniqueEmail("payer");
    const bill = await billFor(owner, email);

    const first = await expectJson<Payment>(await pay(owner, bill.id, { amount: 500, method: "cash" }, "till-42"), 201);
    const retried = await expectJson<Payment>(await pay(owner, bill.id, { amount: 500, method: "cash" }, "till-42"), 201);

    expect(retried.payment.id).toBe(first.payment.id);
    const receipts = await receiptsOf(bill.id);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({ channel: "email", recipient: email, idempotencyKey: `payment-receipt:${first.payment.id}` });
    expect(receipts[0]?.subject).toContain(bill.number);
    expect(receipts[0]?.body).toContain("we received $5.00");
    expect(receipts[0]?.body).toContain("Still owed: $7.00.");
    expect(receipts[0]?.body).toMatch(/https:\/\/\S+\/b\/\S+/);

    await expectJson(await pay(owner, bill.id, { amount: 700, method: "cash" }), 201);
    const all = await receiptsOf(bill.id);
    expect(all).toHaveLength(2);
    expect(all.map((m) => m.body)).toContainEqual(expect.stringContaining("The bill is paid in full."));
  });

  it("send none when the organisation turned receipts off, and again when it turns them back on", async () => {
    const owner = await signUp("receipt-off");
    const settings = (body?: unknown) => call("/v1/org/settings", { method: body ? "PATCH" : "GET", token: owner.access_token, body });
    expect((await expectJson<{ messages: unknown }>(await settings(), 200)).messages).toEqual({ payment_receipts: true });
    expect((await expectJson<{ messages: unknown }>(await settings({ messages: { payment_receipts: false } }), 200)).messages).toEqual({
      payment_receipts: false,
    });
    const bill = await billFor(owner, uniqueEmail("quiet"));

    await expectJson(await pay(owner, bill.id, { amount: 500, method: "cash" }), 201);
    expect(await receiptsOf(bill.id)).toHaveLength(0);

    await expectJson(await settings({ messages: { payment_receipts: null } }), 200);
    await expectJson(await pay(owner, bill.id, { amount: 500, method: "cash" }), 201);
    expect(await receiptsOf(bill.id)).toHaveLength(1);
  });

  it("refuse a setting that is not a boolean with a 422 naming the field", async () => {
    const owner = await signUp("receipt-bad");
    const response = await call("/v1/org/settings", { method: "PATCH", token: owner.access_token, body: { messages: { payment_receipts: "no" } } });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ errors: [expect.objectContaining({ path: "messages.payment_receipts" })] });
  });
});

describe("bill settings in /v1/org/settings", () => {
  const settings = (owner: SignedUp, body?: unknown) => call("/v1/org/settings", { method: body ? "PATCH" : "GET", token: owner.access_token, body });

  it("start from the platform's defaults and the organisation's currency, and refuse bad values with 422 naming the field", async () => {
    const owner = await signUp("bill-settings");
    expect((await expectJson<{ bills: unknown }>(await settings(owner), 200)).bills).toEqual({
      currency: "USD",
      prices_include_tax: false,
      default_tax_rate_bps: 0,
      footer: null,
      reminder_interval_days: 7,
    });
    for (const [field, value] of [
      ["currency", "dollars"],
      ["default_tax_rate_bps", 10_001],
      ["default_tax_rate_bps", 12.5],
      ["footer", "  "],
      ["footer", "x".repeat(501)],
      ["footer", "Thanks\u0000"],
      ["reminder_interval_days", 0],
      ["reminder_interval_days", 366],
      ["prices_include_tax", "yes"],
    ] as const) {
      const problem = await expectProblem(await settings(owner, { bills: { [field]: value } }), 422);
      expect(problem.errors).toEqual([expect.objectContaining({ path: `bills.${field}` })]);
    }
    await expectProblem(await settings(owner, { bills: { tax: 5 } }), 422);
    expect((await expectJson<{ bills: { footer: null } }>(await settings(owner), 200)).bills.footer).toBeNull();
  });

  it("price new bills and products in the set currency and default tax, and print the footer on the bill's page and PDF", async () => {
    const owner = await signUp("bill-defaults");
    const patched = await expectJson<{ bills: unknown }>(
      await settings(owner, { bills: { currency: "eur", default_tax_rate_bps: 1000, footer: "Thank you <3 — VAT DE123456789" } }),
      200,
    );
    expect(patched.bills).toMatchObject({ currency: "EUR", default_tax_rate_bps: 1000, footer: "Thank you <3 — VAT DE123456789" });
    // The organisation's own currency is the same value, whichever route set it.
    expect(await expectJson(await call(`/v1/orgs/${owner.orgId}`, { token: owner.access_token }), 200)).toMatchObject({ currency: "EUR" });

    const product = await expectJson<{ tax_rate_bps: number; currency: string }>(
      await call("/v1/products", { token: owner.access_token, body: { name: "Tea", price: 400 } }),
      201,
    );
    expect(product).toMatchObject({ tax_rate_bps: 1000, currency: "EUR" });
    const customer = await expectJson<{ id: string }>(
      await call("/v1/customers", { token: owner.access_token, body: { name: "Footer Fan", email: uniqueEmail("footer") } }),
      201,
    );
    const body = {
      customer_id: customer.id,
      items: [
        { description: "Delivery", quantity: 1, unit_price: 1000 },
        { description: "Zero-rated", quantity: 1, unit_price: 500, tax_rate_bps: 0 },
      ],
      issue: true,
    };
    const bill = await expectJson<Bill>(await call("/v1/bills", { token: owner.access_token, body }), 201);
    expect(bill).toMatchObject({ currency: "EUR", tax: 100, total: 1600 });
    expect(bill.items.map((item) => item.tax_rate_bps)).toEqual([1000, 0]);

    const sent = await expectJson<{ url: string }>(await call(`/v1/bills/${bill.id}/send`, { token: owner.access_token, body: { channel: "email" } }), 202);
    const page = await (await call(new URL(sent.url).pathname)).text();
    expect(page).toContain("Thank you &lt;3 — VAT DE123456789");
    const pdf = new Uint8Array(await (await call(`${new URL(sent.url).pathname}?format=pdf`)).arrayBuffer());
    const { extractText, getDocumentProxy } = await import("unpdf");
    const { text } = await extractText(await getDocumentProxy(pdf), { mergePages: true });
    expect(text).toContain("VAT DE123456789");

    await expectJson(await settings(owner, { bills: { footer: null, default_tax_rate_bps: null } }), 200);
    const plain = await expectJson<Bill>(await call("/v1/bills", { token: owner.access_token, body: { items: [body.items[0]] } }), 201);
    expect(plain.items[0]?.tax_rate_bps).toBe(0);
  });

  it("remind overdue bills at the organisation's interval instead of the platform's", async () => {
    const owner = await signUp("bill-reminder-days");
    await expectJson(await settings(owner, { bills: { reminder_interval_days: 2 } }), 200);
    const customer = await expectJson<{ id: string }>(
      await call("/v1/customers", { token: owner.access_token, body: { name: "Late", email: uniqueEmail("late") } }),
      201,
    );
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const overdue = await expectJson<Bill>(
      await call("/v1/bills", {
        token: owner.access_token,
        body: { customer_id: customer.id, items: [{ description: "Rice", quantity: 1, unit_price: 900 }], due_date: yesterday, issue: true },
      }),
      201,
    );
    const remindersOf = async () =>
      (
        await testCtx()
          .db.select()
          .from(messages)
          .where(and(eq(messages.entityType, "bill"), eq(messages.entityId, overdue.id)))
      ).length;
    const runOn = (daysFromNow: number) => sendOverdueReminders({ ...testCtx(), now: () => new Date(Date.now() + daysFromNow * 86_400_000) });

    await runOn(0);
    expect(await remindersOf()).toBe(1);
    await runOn(1);
    expect(await remindersOf()).toBe(1);
    // Two days later, where the platform's seven would still wait.
    await runOn(2);
    expect(await remindersOf()).toBe(2);
  });
});
