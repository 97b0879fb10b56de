import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { and, desc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { cronRuns, messages, products, stockMovements, users } from "../src/db/schema";
import worker from "../src/index";
import { sendLowStockAlerts } from "../src/modules/retail/products/low-stock-alerts";
import { cronJobs } from "../src/scheduled";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx, testEnv } from "./harness/helpers";

interface Product {
  id: string;
  name: string;
  sku: string | null;
  barcode: string | null;
  category_id: string | null;
  unit: string;
  price: number;
  cost: number | null;
  currency: string;
  tax_rate_bps: number;
  stock_quantity: string;
  low_stock_threshold: string | null;
  archived_at: string | null;
}

interface Movement {
  id: string;
  product_id: string;
  change: string;
  reason: string;
  note: string | null;
  quantity_after: string;
  created_by: string | null;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

async function createProduct(owner: SignedUp, body: Record<string, unknown>): Promise<Product> {
  return expectJson<Product>(await call("/v1/products", { token: owner.access_token, body: { price: 100, ...body } }), 201);
}

async function listProducts(owner: SignedUp, query = ""): Promise<Page<Product>> {
  return expectJson<Page<Product>>(await call(`/v1/products${query}`, { token: owner.access_token }), 200);
}

function adjust(owner: SignedUp, productId: string, body: Record<string, unknown>): Promise<Response> {
  return call(`/v1/products/${productId}/stock`, { token: owner.access_token, body });
}

async function stockRow(productId: string): Promise<string | undefined> {
  const [row] = await testCtx().db.select({ stock: products.stockQuantity }).from(products).where(eq(products.id, productId));
  return row?.stock;
}

async function movementRows(productId: string) {
  return testCtx().db.select().from(stockMovements).where(eq(stockMovements.productId, productId));
}

describe("creating and reading products", () => {
  it("creates a product priced in the organisation's currency with decimal-string quantities", async () => {
    const owner = await signUp("prod-create");
    const category = await expectJson<{ id: string }>(await call("/v1/products/categories", { token: owner.access_token, body: { name: "Coffee" } }), 201);
    const created = await createProduct(owner, {
      name: "Arabica beans",
      sku: "COF-1",
      barcode: "4006381333931",
      category_id: category.id,
      unit: "kg",
      price: 1850,
      cost: 1200,
      tax_rate_bps: 1800,
      stock_quantity: 2.5,
      low_stock_threshold: "1",
    });
    expect(created).toMatchObject({
      id: expect.stringMatching(/^prod_/),
      name: "Arabica beans",
      sku: "COF-1",
      category_id: category.id,
      unit: "kg",
      price: 1850,
      cost: 1200,
      currency: "USD",
      tax_rate_bps: 1800,
      stock_quantity: "2.500",
      low_stock_threshold: "1.000",
      archived_at: null,
    });
    expect(await expectJson<Product>(await call(`/v1/products/${created.id}`, { token: owner.access_token }), 200)).toEqual(created);
    const [opening] = await movementRows(created.id);
    expect(opening).toMatchObject({ change: "2.500", reason: "correction", quantityAfter: "2.500" });
  });

  it("refuses a second product with the same SKU and keeps only the first", async () => {
    const owner = await signUp("prod-dup");
    await createProduct(owner, { name: "Tea", sku: "TEA-1" });
    const problem = await expectProblem(await call("/v1/products", { token: owner.access_token, body: { name: "Other tea", sku: "TEA-1", price: 5 } }), 409);
    expect(problem.detail).toContain("TEA-1");
    const rows = await testCtx()
      .db.select()
      .from(products)
      .where(and(eq(products.orgId, owner.orgId), eq(products.sku, "TEA-1")));
    expect(rows.map((r) => r.name)).toEqual(["Tea"]);
  });

  it("answers 422 on category_id for a category the organisation does not have", async () => {
    const owner = await signUp("prod-cat");
    const other = await signUp("prod-cat-other");
    const foreign = await expectJson<{ id: string }>(await call("/v1/products/categories", { token: other.access_token, body: { name: "Theirs" } }), 201);
    const problem = await expectProblem(await call("/v1/products", { token: owner.access_token, body: { name: "X", price: 1, category_id: foreign.id } }), 422);
    expect(problem.errors?.map((e) => e.path)).toEqual(["category_id"]);
  });

  it("rejects quantities with more than three decimals", async () => {
    const owner = await signUp("prod-decimals");
    const problem = await expectProblem(
      await call("/v1/products", { token: owner.access_token, body: { name: "X", price: 1, stock_quantity: "1.2345" } }),
      422,
    );
    expect(problem.errors?.map((e) => e.path)).toEqual(["stock_quantity"]);
  });

  it("hides another organisation's product behind a 404", async () => {
    const owner = await signUp("prod-iso");
    const other = await signUp("prod-iso-other");
    const product = await createProduct(owner, { name: "Mine", stock_quantity: 3 });
    await expectProblem(await call(`/v1/products/${product.id}`, { token: other.access_token }), 404);
    await expectProblem(await adjust(other, product.id, { change: -1, reason: "sale" }), 404);
    expect(await stockRow(product.id)).toBe("3.000");
  });

  it("lets a viewer read products but not create them", async () => {
    const owner = await signUp("prod-viewer-owner");
    const viewer = await joinOrgAs(owner, "viewer", "prod-viewer");
    await createProduct(owner, { name: "Visible" });
    const listed = await expectJson<Page<Product>>(await call("/v1/products", { token: viewer.access_token, orgId: owner.orgId }), 200);
    expect(listed.data.map((p) => p.name)).toEqual(["Visible"]);
    await expectProblem(await call("/v1/products", { token: viewer.access_token, orgId: owner.orgId, body: { name: "Nope", price: 1 } }), 403);
    expect(await testCtx().db.$count(products, eq(products.orgId, owner.orgId))).toBe(1);
  });
});

describe("listing products", () => {
  it("searches name, SKU and barcode case-insensitively, filters by category and low stock, and pages", async () => {
    const owner = await signUp("prod-list");
    const drinks = await expectJson<{ id: string }>(await call("/v1/products/categories", { token: owner.access_token, body: { name: "Drinks" } }), 201);
    const cola = await createProduct(owner, { name: "Cola Zero", sku: "DRK-COLA", category_id: drinks.id, stock_quantity: 1, low_stock_threshold: 2 });
    const water = await createProduct(owner, {
      name: "Still water",
      sku: "DRK-H2O",
      barcode: "5000112637922",
      category_id: drinks.id,
      stock_quantity: 50,
      low_stock_threshold: 10,
    });
    const bread = await createProduct(owner, { name: "Sourdough", sku: "BAK-1" });

    expect((await listProducts(owner, "?q=cola")).data.map((p) => p.id)).toEqual([cola.id]);
    expect((await listProducts(owner, "?q=drk-h2o")).data.map((p) => p.id)).toEqual([water.id]);
    expect((await listProducts(owner, "?q=637922")).data.map((p) => p.id)).toEqual([water.id]);
    expect((await listProducts(owner, "?q=%25")).data).toEqual([]);
    expect((await listProducts(owner, `?category_id=${drinks.id}`)).data.map((p) => p.id)).toEqual([cola.id, water.id]);
    expect((await listProducts(owner, "?low_stock=true")).data.map((p) => p.id)).toEqual([cola.id]);

    const first = await listProducts(owner, "?limit=2");
    expect(first.data.map((p) => p.id)).toEqual([cola.id, water.id]);
    const second = await listProducts(owner, `?limit=2&cursor=${first.next_cursor}`);
    expect(second).toEqual({ data: [expect.objectContaining({ id: bread.id })], next_cursor: null });
  });

  it("leaves archived products out of the list but keeps them readable", async () => {
    const owner = await signUp("prod-archive");
    const product = await createProduct(owner, { name: "Old stock" });
    const response = await call(`/v1/products/${product.id}`, { token: owner.access_token, method: "DELETE" });
    expect(response.status).toBe(204);
    expect((await listProducts(owner)).data).toEqual([]);
    const read = await expectJson<Product>(await call(`/v1/products/${product.id}`, { token: owner.access_token }), 200);
    expect(read.archived_at).toEqual(expect.any(String));
  });
});

describe("adjusting stock", () => {
  it("adds decimals exactly: 0.1 + 0.2 is 0.300", async () => {
    const owner = await signUp("stock-decimal");
    const product = await createProduct(owner, { name: "Flour", unit: "kg" });
    await expectJson(await adjust(owner, product.id, { change: 0.1, reason: "purchase" }), 201);
    const result = await expectJson<{ movement: Movement; product: Product }>(await adjust(owner, product.id, { change: "0.2", reason: "purchase" }), 201);
    expect(result.product.stock_quantity).toBe("0.300");
    expect(result.movement).toMatchObject({ change: "0.200", quantity_after: "0.300", reason: "purchase" });
    expect(await stockRow(product.id)).toBe("0.300");
  });

  it("records each change as a movement with the quantity after it, newest first", async () => {
    const owner = await signUp("stock-movements");
    const product = await createProduct(owner, { name: "Rice", unit: "kg" });
    const bought = await expectJson<{ movement: Movement }>(await adjust(owner, product.id, { change: "10", reason: "purchase", note: "Supplier A" }), 201);
    const sold = await expectJson<{ movement: Movement; product: Product }>(await adjust(owner, product.id, { change: "-2.250", reason: "sale" }), 201);
    expect(sold.movement).toMatchObject({
      id: expect.stringMatching(/^stk_/),
      product_id: product.id,
      change: "-2.250",
      reason: "sale",
      quantity_after: "7.750",
      created_by: owner.user.id,
    });
    expect(sold.product.stock_quantity).toBe("7.750");

    const listed = await expectJson<Page<Movement>>(await call(`/v1/products/${product.id}/stock?limit=1`, { token: owner.access_token }), 200);
    expect(listed.data.map((m) => m.id)).toEqual([sold.movement.id]);
    const older = await expectJson<Page<Movement>>(
      await call(`/v1/products/${product.id}/stock?limit=1&cursor=${listed.next_cursor}`, { token: owner.access_token }),
      200,
    );
    expect(older).toEqual({ data: [expect.objectContaining({ id: bought.movement.id, note: "Supplier A", quantity_after: "10.000" })], next_cursor: null });
  });

  it("refuses to take stock below zero, names the current stock and changes nothing", async () => {
    const owner = await signUp("stock-negative");
    const product = await createProduct(owner, { name: "Eggs", stock_quantity: 2 });
    const problem = await expectProblem(await adjust(owner, product.id, { change: -3, reason: "sale" }), 409);
    expect(problem.detail).toContain("2.000");
    expect(await stockRow(product.id)).toBe("2.000");
    expect(await movementRows(product.id)).toHaveLength(1);
  });

  it("lets stock go below zero once the organisation allows it, and only for that organisation", async () => {
    const owner = await signUp("stock-allow-negative");
    const other = await signUp("stock-allow-negative-other");
    const product = await createProduct(owner, { name: "Bread", stock_quantity: 1 });
    const otherProduct = await createProduct(other, { name: "Bread", stock_quantity: 1 });
    const settings = await call(`/v1/orgs/${owner.orgId}`, { method: "PATCH", token: owner.access_token, body: { allow_negative_stock: true } });
    expect(await expectJson<{ allow_negative_stock: boolean }>(settings, 200)).toMatchObject({ allow_negative_stock: true });

    const sold = await expectJson<{ product: Product; movement: Movement }>(await adjust(owner, product.id, { change: -2.5, reason: "sale" }), 201);
    expect(sold.product.stock_quantity).toBe("-1.500");
    expect(sold.movement.quantity_after).toBe("-1.500");
    expect(await stockRow(product.id)).toBe("-1.500");
    await expectProblem(await adjust(other, otherProduct.id, { change: -2, reason: "sale" }), 409);
    expect(await stockRow(otherProduct.id)).toBe("1.000");
  });

  it("refuses a purchase with a negative change", async () => {
    const owner = await signUp("stock-reason");
    const product = await createProduct(owner, { name: "Milk", stock_quantity: 5 });
    const problem = await expectProblem(await adjust(owner, product.id, { change: -1, reason: "purchase" }), 422);
    expect(problem.errors?.map((e) => e.path)).toEqual(["change"]);
    expect(await stockRow(product.id)).toBe("5.000");
  });

  it("sells the last five units exactly once when twenty sales race", async () => {
    const owner = await signUp("stock-race");
    const product = await createProduct(owner, { name: "Limited edition", stock_quantity: 5 });
    const responses = await Promise.all(Array.from({ length: 20 }, () => adjust(owner, product.id, { change: -1, reason: "sale" })));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(15);
    expect(await stockRow(product.id)).toBe("0.000");
    const sales = (await movementRows(product.id)).filter((m) => m.reason === "sale");
    expect(sales).toHaveLength(5);
    expect(sales.map((m) => m.quantityAfter).sort()).toEqual(["0.000", "1.000", "2.000", "3.000", "4.000"]);
  });
});

describe("categories", () => {
  it("keeps names unique per organisation regardless of case and refuses a loop of parents", async () => {
    const owner = await signUp("cat-owner");
    const food = await expectJson<{ id: string }>(await call("/v1/products/categories", { token: owner.access_token, body: { name: "Food" } }), 201);
    await expectProblem(await call("/v1/products/categories", { token: owner.access_token, body: { name: "FOOD" } }), 409);
    const fruit = await expectJson<{ id: string; parent_id: string }>(
      await call("/v1/products/categories", { token: owner.access_token, body: { name: "Fruit", parent_id: food.id } }),
      201,
    );
    expect(fruit.parent_id).toBe(food.id);
    const loop = await expectProblem(
      await call(`/v1/products/categories/${food.id}`, { token: owner.access_token, method: "PATCH", body: { parent_id: fruit.id } }),
      422,
    );
    expect(loop.errors?.map((e) => e.path)).toEqual(["parent_id"]);

    const product = await createProduct(owner, { name: "Apple", category_id: fruit.id });
    expect((await call(`/v1/products/categories/${fruit.id}`, { token: owner.access_token, method: "DELETE" })).status).toBe(204);
    const after = await expectJson<Product>(await call(`/v1/products/${product.id}`, { token: owner.access_token }), 200);
    expect(after.category_id).toBeNull();
  });
});

const FIVE_MINUTE_CRON = "*/5 * * * *";

const phone = () => `+1629${String(Math.floor(Math.random() * 10_000_000)).padStart(7, "0")}`;

/** A product with 5 pieces in stock that counts as low at 2 or fewer. */
function lowAtTwo(owner: SignedUp): Promise<Product> {
  return createProduct(owner, { name: "Basmati 1kg", price: 450, stock_quantity: "5", low_stock_threshold: "2" });
}

/** Sells `quantity` of the product on an issued bill: the stock movement a shop makes all day. */
async function sell(owner: SignedUp, productId: string, quantity: number): Promise<void> {
  const body = { items: [{ product_id: productId, quantity }], issue: true };
  await expectJson(await call("/v1/bills", { token: owner.access_token, body }), 201);
}

async function restock(owner: SignedUp, productId: string, change: string): Promise<void> {
  await expectJson(await adjust(owner, productId, { change, reason: "purchase" }), 201);
}

async function alertsOf(productId: string) {
  return testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "product"), eq(messages.entityId, productId)));
}

async function overlappingRuns(): Promise<void> {
  await Promise.all([sendLowStockAlerts(testCtx()), sendLowStockAlerts(testCtx()), sendLowStockAlerts(testCtx())]);
}

describe("low-stock alerts", () => {
  it("tell the owners once per crossing by email and SMS, across overlapping runs, and again after a restock", async () => {
    const owner = await signUp("low-stock");
    const ownerPhone = phone();
    // No route sets a user's phone yet; sign-in by phone would have stored it here.
    await testCtx().db.update(users).set({ phone: ownerPhone }).where(eq(users.id, owner.user.id));
    const product = await lowAtTwo(owner);

    await overlappingRuns();
    expect(await alertsOf(product.id)).toHaveLength(0);

    await sell(owner, product.id, 3);
    await overlappingRuns();
    await overlappingRuns();
    const first = await alertsOf(product.id);
    expect(first.map((m) => [m.channel, m.recipient]).sort()).toEqual([
      ["email", owner.user.email],
      ["sms", ownerPhone],
    ]);
    const email = first.find((m) => m.channel === "email");
    expect(email?.subject).toBe("Low stock: Basmati 1kg");
    expect(email?.body).toContain("Basmati 1kg is low on stock, 2.000 piece left");

    // Restocked above the threshold, then sold down again before any run saw the rise.
    await restock(owner, product.id, "10");
    await sell(owner, product.id, 11);
    await overlappingRuns();
    const after = await alertsOf(product.id);
    expect(after).toHaveLength(4);
    expect(after.filter((m) => m.channel === "email").map((m) => m.body)).toContainEqual(expect.stringContaining("1.000 piece left"));
  });

  it("stay quiet for products without a threshold or already alerted, and run from the five-minute cron", async () => {
    expect(cronJobs[FIVE_MINUTE_CRON]?.map((job) => job.name)).toContain("products.low-stock-alerts");
    const owner = await signUp("low-stock-cron");
    const noThreshold = await createProduct(owner, { name: "Salt", price: 90, stock_quantity: "0" });
    const product = await lowAtTwo(owner);
    await sell(owner, product.id, 4);

    const exec = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: FIVE_MINUTE_CRON, scheduledTime: new Date() }), testEnv, exec);
    await waitOnExecutionContext(exec);
    await sendLowStockAlerts(testCtx());

    expect(await alertsOf(noThreshold.id)).toHaveLength(0);
    expect((await alertsOf(product.id)).map((m) => m.channel)).toEqual(["email"]);
    const [run] = await testCtx().db.select().from(cronRuns).where(eq(cronRuns.cron, FIVE_MINUTE_CRON)).orderBy(desc(cronRuns.startedAt)).limit(1);
    expect(run?.jobs).toContainEqual({ job: "products.low-stock-alerts", ok: true, detail: expect.stringMatching(/^\d+ sent, \d+ failed$/) });
  });
});
