import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { and, desc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { cronRuns, messages, users } from "../src/db/schema";
import worker from "../src/index";
import { sendLowStockAlerts } from "../src/modules/retail/products/low-stock-alerts";
import { cronJobs } from "../src/scheduled";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { testCtx, testEnv } from "./harness/helpers";

const FIVE_MINUTE_CRON = "*/5 * * * *";

const phone = () => `+1629${String(Math.floor(Math.random() * 10_000_000)).padStart(7, "0")}`;

/** A product with 5 pieces in stock that counts as low at 2 or fewer. */
async function lowAtTwo(owner: SignedUp): Promise<{ id: string }> {
  const body = { name: "Basmati 1kg", price: 450, stock_quantity: "5", low_stock_threshold: "2" };
  return expectJson(await call("/v1/products", { token: owner.access_token, body }), 201);
}

/** Sells `quantity` of the product on an issued bill: the stock movement a shop makes all day. */
async function sell(owner: SignedUp, productId: string, quantity: number): Promise<void> {
  const body = { items: [{ product_id: productId, quantity }], issue: true };
  await expectJson(await call("/v1/bills", { token: owner.access_token, body }), 201);
}

async function restock(owner: SignedUp, productId: string, change: string): Promise<void> {
  await expectJson(await call(`/v1/products/${productId}/stock`, { token: owner.access_token, body: { change, reason: "purchase" } }), 201);
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
    const noThreshold = await expectJson<{ id: string }>(
      await call("/v1/products", { token: owner.access_token, body: { name: "Salt", price: 90, stock_quantity: "0" } }),
      201,
    );
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
