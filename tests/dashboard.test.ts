import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { billPayments, billRefunds, bills, customers } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface Bill {
  id: string;
  status: string;
  total: number;
  amount_paid: number;
  issued_at: string | null;
}

interface Summary {
  from: string;
  to: string;
  currency: string;
  revenue: number;
  collected: number;
  outstanding: number;
  bill_count: number;
  average_bill: number;
  new_customers: number;
}

interface TopCustomers {
  from: string;
  to: string;
  currency: string;
  data: { customer_id: string; name: string; revenue: number; bill_count: number; balance: number }[];
}

interface SalesRow {
  key: string;
  label: string;
  revenue: number;
  bill_count: number;
  quantity: string | null;
}

interface Sales {
  currency: string;
  group_by: string;
  data: SalesRow[];
}

interface LowStockPage {
  data: { id: string; name: string; unit: string; stock_quantity: string; low_stock_threshold: string; shortfall: string }[];
  next_cursor: string | null;
}

function get(who: SignedUp, path: string): Promise<Response> {
  return call(path, { token: who.access_token, orgId: who.orgId });
}

async function getJson<T>(who: SignedUp, path: string): Promise<T> {
  return expectJson<T>(await get(who, path), 200);
}

async function post<T>(who: SignedUp, path: string, body: unknown, status = 201): Promise<T> {
  return expectJson<T>(await call(path, { token: who.access_token, orgId: who.orgId, body }), status);
}

async function createProduct(owner: SignedUp, body: Record<string, unknown>): Promise<{ id: string }> {
  return post(owner, "/v1/products", { unit: "piece", tax_rate_bps: 0, ...body });
}

async function createCustomer(owner: SignedUp, name: string): Promise<{ id: string }> {
  return post(owner, "/v1/customers", { name });
}

async function issueBill(owner: SignedUp, body: Record<string, unknown>): Promise<Bill> {
  return post<Bill>(owner, "/v1/bills", { ...body, issue: true });
}

async function pay(owner: SignedUp, billId: string, amount: number, method = "cash", extra: Record<string, unknown> = {}): Promise<{ id: string }> {
  const result = await post<{ payment: { id: string } }>(owner, `/v1/bills/${billId}/payments`, { amount, method, ...extra });
  return result.payment;
}

const freeLine = (description: string, quantity: string, unit_price: number) => ({ description, quantity, unit_price });

/**
 * The issue-time and payment-time stamps come from the server's clock; to test period edges the
 * bills are built through the API and only their stamps are moved to fixed instants afterwards.
 */
async function stampIssuedAt(billIds: string[], at: string): Promise<void> {
  await testCtx()
    .db.update(bills)
    .set({ issuedAt: new Date(at) })
    .where(inArray(bills.id, billIds));
}

/**
 * One shop's day, every figure hand-computed:
 * - A: customer Asha, 2 × Tea (1000) + 1 × Coffee (2550 + 10% tax 255) = 4805, paid 1805 cash -> due 3000.
 * - B: customer Bala, a free line of 500, paid 500 by card, then 300 refunded -> paid, revenue 200.
 * - C: customer Bala, 1.5 × Tea = 1500, paid 200, then voided -> not revenue, but the 200 was received.
 * - D: customer Asha, 3 × Tea = 3000 − bill discount 299 = 2701, unpaid.
 * - E: a draft of 1 × Tea, never issued.
 * - F: customer Bala, a free line of 1000: the 200 credit C left Bala pays 200 of it on issue (a `credit`
 *   payment: no new money), then 1200 paid by UPI with the excess 400 kept as credit -> paid.
 * revenue = 4805 + (500 − 300) + 2701 + 1000 = 8706 over 4 bills; average 2176.5 -> 2177 (half up).
 * collected = 1805 + 500 + 200 + 1200 − 300 = 3405 (F's 200 from credit is not money received). outstanding = 3000 + 2701 = 5701.
 * Asha owes 4805 − 1805 + 2701 = 5701; Bala: (500 − 500 − 300 + 300) + (1500 − 200 − 1500) + (1000 − 1200) = −400
 * (a refund is a credit note and the money paid out: it leaves the balance as it was).
 */
async function aShopsDay() {
  const owner = await signUp("dashboard");
  const drinks = await post<{ id: string }>(owner, "/v1/products/categories", { name: "Drinks" });
  const tea = await createProduct(owner, { name: "Tea", price: 1000, stock_quantity: "50", category_id: drinks.id });
  const coffee = await createProduct(owner, { name: "Coffee", price: 2550, tax_rate_bps: 1000, stock_quantity: "10" });
  const asha = await createCustomer(owner, "Asha");
  const bala = await createCustomer(owner, "Bala");

  const a = await issueBill(owner, {
    customer_id: asha.id,
    items: [
      { product_id: tea.id, quantity: 2 },
      { product_id: coffee.id, quantity: 1 },
    ],
  });
  expect(a.total).toBe(4805);
  await pay(owner, a.id, 1805);
  const b = await issueBill(owner, { customer_id: bala.id, items: [freeLine("Delivery", "1", 500)] });
  await pay(owner, b.id, 500, "card");
  await post(owner, `/v1/bills/${b.id}/refunds`, { amount: 300, method: "cash", reason: "Late delivery" });
  const c = await issueBill(owner, { customer_id: bala.id, items: [{ product_id: tea.id, quantity: "1.5" }] });
  expect(c.total).toBe(1500);
  await pay(owner, c.id, 200);
  await post(owner, `/v1/bills/${c.id}/void`, {}, 200);
  const d = await issueBill(owner, { customer_id: asha.id, items: [{ product_id: tea.id, quantity: 3 }], discount: 299 });
  expect(d.total).toBe(2701);
  await post(owner, "/v1/bills", { items: [{ product_id: tea.id, quantity: 1 }] });
  const f = await issueBill(owner, { customer_id: bala.id, items: [freeLine("Gift wrap", "1", 1000)] });
  expect(f.amount_paid).toBe(200);
  await pay(owner, f.id, 1200, "upi", { excess_to_credit: true });
  return { owner, tea, coffee, drinks, asha, bala, bills: { a, b, c, d, f } };
}

describe("dashboard summary", () => {
  it("adds up revenue, collected, outstanding, bill count, average bill and new customers by their definitions", async () => {
    const { owner } = await aShopsDay();
    const summary = await getJson<Summary>(owner, "/v1/dashboard/summary");
    expect(summary).toMatchObject({
      currency: "USD",
      revenue: 8706,
      collected: 3405,
      outstanding: 5701,
      bill_count: 4,
      average_bill: 2177,
      new_customers: 2,
    });
  });

  it("defaults to the last 30 UTC days, ending at the coming midnight", async () => {
    const owner = await signUp("dashboard-default");
    const summary = await getJson<Summary>(owner, "/v1/dashboard/summary");
    const now = new Date();
    const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
    expect(summary.to).toBe(midnight.toISOString());
    expect(summary.from).toBe(new Date(midnight.getTime() - 30 * 86_400_000).toISOString());
    expect(summary).toMatchObject({ revenue: 0, collected: 0, outstanding: 0, bill_count: 0, average_bill: 0, new_customers: 0 });
    // One bound alone: the other is 30 days from it.
    const fromOnly = await getJson<Summary>(owner, "/v1/dashboard/summary?from=2025-03-01");
    expect([fromOnly.from, fromOnly.to]).toEqual(["2025-03-01T00:00:00.000Z", "2025-03-31T00:00:00.000Z"]);
    const toOnly = await getJson<Summary>(owner, "/v1/dashboard/summary?to=2025-03-31T05:30:00%2B05:30");
    expect([toOnly.from, toOnly.to]).toEqual(["2025-03-01T00:00:00.000Z", "2025-03-31T00:00:00.000Z"]);
  });

  it("counts a bill, a payment and a customer only when they fall in [from, to)", async () => {
    const owner = await signUp("dashboard-edges");
    const before = await issueBill(owner, { items: [freeLine("Before", "1", 100)] });
    const first = await issueBill(owner, { items: [freeLine("First instant", "1", 1000)] });
    const last = await issueBill(owner, { items: [freeLine("Last instant", "1", 3000)] });
    const after = await issueBill(owner, { items: [freeLine("After", "1", 7000)] });
    await stampIssuedAt([before.id], "2025-01-31T23:59:59.999Z");
    await stampIssuedAt([first.id], "2025-02-01T00:00:00.000Z");
    await stampIssuedAt([last.id], "2025-02-28T23:59:59.999Z");
    await stampIssuedAt([after.id], "2025-03-01T00:00:00.000Z");
    const inside = await pay(owner, first.id, 400);
    const outside = await pay(owner, last.id, 900);
    const paidBefore = await pay(owner, before.id, 100);
    const { refund } = await post<{ refund: { id: string } }>(owner, `/v1/bills/${before.id}/refunds`, { amount: 60, method: "cash" });
    const db = testCtx().db;
    await db
      .update(billPayments)
      .set({ createdAt: new Date("2025-01-31T23:59:59.999Z") })
      .where(eq(billPayments.id, paidBefore.id));
    // Money given back in February on a January bill: it counts against February's takings.
    await db
      .update(billRefunds)
      .set({ createdAt: new Date("2025-02-10T08:00:00Z") })
      .where(eq(billRefunds.id, refund.id));
    await db
      .update(billPayments)
      .set({ createdAt: new Date("2025-02-14T12:00:00Z") })
      .where(eq(billPayments.id, inside.id));
    await db
      .update(billPayments)
      .set({ createdAt: new Date("2025-03-01T00:00:00Z") })
      .where(eq(billPayments.id, outside.id));
    const early = await createCustomer(owner, "Early");
    const inFebruary = await createCustomer(owner, "February");
    await db
      .update(customers)
      .set({ createdAt: new Date("2025-01-15T00:00:00Z") })
      .where(eq(customers.id, early.id));
    await db
      .update(customers)
      .set({ createdAt: new Date("2025-02-28T10:00:00Z") })
      .where(eq(customers.id, inFebruary.id));

    const february = await getJson<Summary>(owner, "/v1/dashboard/summary?from=2025-02-01&to=2025-03-01");
    expect(february).toMatchObject({
      from: "2025-02-01T00:00:00.000Z",
      to: "2025-03-01T00:00:00.000Z",
      revenue: 4000,
      bill_count: 2,
      average_bill: 2000,
      collected: 400 - 60,
      new_customers: 1,
      // Outstanding is now, not the period's: the three unpaid bills less their two payments.
      outstanding: 1000 + 3000 + 7000 - 400 - 900,
    });
    // The same instants written with an offset (a + sent unencoded arrives as a space).
    const withOffset = await getJson<Summary>(owner, "/v1/dashboard/summary?from=2025-02-01T05:30:00+05:30&to=2025-02-28T23:59:59.999Z");
    expect(withOffset).toMatchObject({ from: "2025-02-01T00:00:00.000Z", revenue: 1000, bill_count: 1 });
  });

  it("answers a viewer of the organisation, and shows another organisation nothing of ours", async () => {
    const { owner } = await aShopsDay();
    // A viewer also has an organisation of their own; X-Org-Id picks the shop's.
    const viewer = { ...(await joinOrgAs(owner, "viewer")), orgId: owner.orgId };
    const asViewer = await getJson<Summary>(viewer, "/v1/dashboard/summary");
    expect(asViewer).toMatchObject({ revenue: 8706, collected: 3405, outstanding: 5701, bill_count: 4 });

    const stranger = await signUp("dashboard-stranger");
    const theirs = await getJson<Summary>(stranger, "/v1/dashboard/summary");
    expect(theirs).toMatchObject({ revenue: 0, collected: 0, outstanding: 0, bill_count: 0, average_bill: 0, new_customers: 0 });
    expect((await getJson<TopCustomers>(stranger, "/v1/dashboard/top-customers")).data).toEqual([]);
    expect((await getJson<Sales>(stranger, "/v1/dashboard/sales?group_by=product")).data).toEqual([]);
    expect((await getJson<LowStockPage>(stranger, "/v1/dashboard/low-stock")).data).toEqual([]);
    // Naming our organisation does not get the stranger in.
    await expectProblem(await call("/v1/dashboard/summary", { token: stranger.access_token, orgId: owner.orgId }), 404);
  });

  it("refuses a key without dashboard:read", async () => {
    const owner = await signUp("dashboard-key");
    const { key } = await post<{ key: string }>(owner, "/v1/api-keys", { name: "bills only", permissions: ["bills:read"] });
    const refused = await expectProblem(await call("/v1/dashboard/summary", { token: key }), 403);
    expect(refused.detail).toContain("dashboard:read");
  });

  it.each([
    ["to before from", "from=2025-03-01&to=2025-02-01", "to"],
    ["an empty period", "from=2025-03-01&to=2025-03-01", "to"],
    ["more than 5 years", "from=2020-01-01&to=2025-01-01T00:00:00.001Z", "to"],
    ["a day that does not exist", "from=2025-02-30", "from"],
    ["a date-time without an offset", "from=2025-02-01T10:00:00", "from"],
    ["not a date", "to=yesterday", "to"],
  ])("answers 422 for %s", async (_name, query, path) => {
    const owner = await signUp("dashboard-422");
    const problem = await expectProblem(await get(owner, `/v1/dashboard/summary?${query}`), 422);
    expect(problem.errors?.map((e) => e.path)).toEqual([path]);
  });

  it("accepts a period of exactly 5 years", async () => {
    const owner = await signUp("dashboard-5y");
    const summary = await getJson<Summary>(owner, "/v1/dashboard/summary?from=2020-01-01&to=2025-01-01");
    expect(summary.to).toBe("2025-01-01T00:00:00.000Z");
  });
});

describe("dashboard top customers", () => {
  it("ranks customers by revenue with their bill count and balance now", async () => {
    const { owner, asha, bala } = await aShopsDay();
    const top = await getJson<TopCustomers>(owner, "/v1/dashboard/top-customers");
    expect(top.currency).toBe("USD");
    expect(top.data).toEqual([
      { customer_id: asha.id, name: "Asha", revenue: 7506, bill_count: 2, balance: 5701 },
      { customer_id: bala.id, name: "Bala", revenue: 1200, bill_count: 2, balance: -400 },
    ]);
    const first = await getJson<TopCustomers>(owner, "/v1/dashboard/top-customers?limit=1");
    expect(first.data.map((c) => c.customer_id)).toEqual([asha.id]);
    await expectProblem(await get(owner, "/v1/dashboard/top-customers?limit=101"), 422);
  });

  it("leaves out customers whose bills fall outside the period", async () => {
    const { owner, bills: made, bala } = await aShopsDay();
    await stampIssuedAt([made.a.id, made.d.id], "2024-06-01T12:00:00Z");
    const top = await getJson<TopCustomers>(owner, "/v1/dashboard/top-customers");
    expect(top.data.map((c) => [c.customer_id, c.revenue])).toEqual([[bala.id, 1200]]);
  });
});

describe("dashboard sales", () => {
  it("groups line totals by product, with lines without a product as `other`", async () => {
    const { owner, tea, coffee } = await aShopsDay();
    const sales = await getJson<Sales>(owner, "/v1/dashboard/sales?group_by=product");
    expect(sales).toMatchObject({ currency: "USD", group_by: "product" });
    // Tea: 2 on A + 3 on D (the voided C and the draft do not count). D's bill discount and B's
    // refund stay off the lines, so these rows add up to more than the summary's revenue.
    expect(sales.data).toEqual([
      { key: tea.id, label: "Tea", revenue: 5000, bill_count: 2, quantity: "5.000" },
      { key: coffee.id, label: "Coffee", revenue: 2805, bill_count: 1, quantity: "1.000" },
      { key: "other", label: "Other (lines without a product)", revenue: 1500, bill_count: 2, quantity: "2.000" },
    ]);
  });

  it("groups line totals by category, with uncategorised products and free lines apart", async () => {
    const { owner, drinks } = await aShopsDay();
    const sales = await getJson<Sales>(owner, "/v1/dashboard/sales?group_by=category");
    expect(sales.data).toEqual([
      { key: drinks.id, label: "Drinks", revenue: 5000, bill_count: 2, quantity: "5.000" },
      { key: "uncategorised", label: "Uncategorised", revenue: 2805, bill_count: 1, quantity: "1.000" },
      { key: "other", label: "Other (lines without a product)", revenue: 1500, bill_count: 2, quantity: "2.000" },
    ]);
  });

  it("buckets revenue by UTC day, ISO week and month, in time order with empty buckets as zeros", async () => {
    const owner = await signUp("dashboard-buckets");
    const sunday = await issueBill(owner, { items: [freeLine("Sunday late", "1", 100)] });
    const monday = await issueBill(owner, { items: [freeLine("Monday early", "1", 200)] });
    const tuesday = await issueBill(owner, { items: [freeLine("Tuesday", "1", 400)] });
    const nextMonth = await issueBill(owner, { items: [freeLine("April", "1", 800)] });
    const voided = await issueBill(owner, { items: [freeLine("Voided", "1", 1600)] });
    await post(owner, `/v1/bills/${voided.id}/void`, {}, 200);
    await stampIssuedAt([sunday.id], "2025-03-30T23:59:59.999Z");
    await stampIssuedAt([monday.id], "2025-03-31T00:00:00.000Z");
    await stampIssuedAt([tuesday.id, voided.id], "2025-04-01T09:00:00Z");
    await stampIssuedAt([nextMonth.id], "2025-04-10T09:00:00Z");
    const range = "from=2025-03-30&to=2025-04-02";

    const days = await getJson<Sales>(owner, `/v1/dashboard/sales?group_by=day&${range}`);
    expect(days.data).toEqual([
      { key: "2025-03-30", label: "2025-03-30", revenue: 100, bill_count: 1, quantity: null },
      { key: "2025-03-31", label: "2025-03-31", revenue: 200, bill_count: 1, quantity: null },
      { key: "2025-04-01", label: "2025-04-01", revenue: 400, bill_count: 1, quantity: null },
    ]);
    const weeks = await getJson<Sales>(owner, "/v1/dashboard/sales?group_by=week&from=2025-03-24&to=2025-04-14");
    expect(weeks.data.map((r) => [r.key, r.label, r.revenue, r.bill_count])).toEqual([
      ["2025-03-24", "2025-W13", 100, 1],
      ["2025-03-31", "2025-W14", 600, 2],
      ["2025-04-07", "2025-W15", 800, 1],
    ]);
    const months = await getJson<Sales>(owner, "/v1/dashboard/sales?group_by=month&from=2025-02-15&to=2025-05-01");
    expect(months.data.map((r) => [r.key, r.label, r.revenue, r.bill_count])).toEqual([
      ["2025-02-01", "2025-02", 0, 0],
      ["2025-03-01", "2025-03", 300, 2],
      ["2025-04-01", "2025-04", 1200, 2],
    ]);
  });

  it("answers 422 for an unknown grouping", async () => {
    const owner = await signUp("dashboard-group");
    const problem = await expectProblem(await get(owner, "/v1/dashboard/sales?group_by=year"), 422);
    expect(problem.errors?.map((e) => e.path)).toEqual(["group_by"]);
  });
});

describe("dashboard low stock", () => {
  it("lists products on sale at or below their threshold, largest shortfall first, a page at a time", async () => {
    const owner = await signUp("dashboard-stock");
    const short3 = await createProduct(owner, { name: "Rice", price: 100, stock_quantity: "2", low_stock_threshold: "5" });
    const atThreshold = await createProduct(owner, { name: "Salt", price: 100, stock_quantity: "10", low_stock_threshold: "10" });
    await createProduct(owner, { name: "Sugar", price: 100, stock_quantity: "5", low_stock_threshold: "2" });
    await createProduct(owner, { name: "Flour", price: 100, stock_quantity: "0" });
    const archived = await createProduct(owner, { name: "Old stock", price: 100, stock_quantity: "0", low_stock_threshold: "5" });
    expect((await call(`/v1/products/${archived.id}`, { method: "DELETE", token: owner.access_token })).status).toBeLessThan(300);
    const kg = await createProduct(owner, { name: "Cheese", unit: "kg", price: 100, stock_quantity: "0.25", low_stock_threshold: "1.5" });
    // Selling takes a product under its threshold: 5 − 2 = 3 ≤ 4.
    const sold = await createProduct(owner, { name: "Milk", price: 100, stock_quantity: "5", low_stock_threshold: "4" });
    await issueBill(owner, { items: [{ product_id: sold.id, quantity: 2 }] });

    const first = await getJson<LowStockPage>(owner, "/v1/dashboard/low-stock?limit=2");
    expect(first.data).toEqual([
      { id: short3.id, name: "Rice", sku: null, unit: "piece", stock_quantity: "2.000", low_stock_threshold: "5.000", shortfall: "3.000" },
      { id: kg.id, name: "Cheese", sku: null, unit: "kg", stock_quantity: "0.250", low_stock_threshold: "1.500", shortfall: "1.250" },
    ]);
    expect(first.next_cursor).not.toBeNull();
    const second = await getJson<LowStockPage>(owner, `/v1/dashboard/low-stock?limit=2&cursor=${encodeURIComponent(first.next_cursor ?? "")}`);
    expect(second.data.map((p) => [p.name, p.shortfall])).toEqual([
      ["Milk", "1.000"],
      ["Salt", "0.000"],
    ]);
    expect(second.next_cursor).toBeNull();
    expect(atThreshold.id).toBe(second.data[1]?.id);

    const searched = await getJson<LowStockPage>(owner, "/v1/dashboard/low-stock?q=chee");
    expect(searched.data.map((p) => p.id)).toEqual([kg.id]);
    await expectProblem(await get(owner, "/v1/dashboard/low-stock?cursor=not-a-cursor"), 422);
  });
});
