import { and, eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { billPayments, messages } from "../src/db/schema";
import { call, expectJson, type SignedUp, signUp, uniqueEmail } from "./harness/api";
import { testCtx } from "./harness/helpers";

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

function pay(owner: SignedUp, billId: string, amount: number, idempotencyKey?: string): Promise<Response> {
  return call(`/v1/bills/${billId}/payments`, {
    token: owner.access_token,
    body: { amount, method: "cash" },
    headers: idempotencyKey ? { "Idempotency-Key": idempotencyKey } : undefined,
  });
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

    const first = await expectJson<Payment>(await pay(owner, bill.id, 500, "till-42"), 201);
    const retried = await expectJson<Payment>(await pay(owner, bill.id, 500, "till-42"), 201);

    expect(retried.payment.id).toBe(first.payment.id);
    const receipts = await receiptsOf(bill.id);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({ channel: "email", recipient: email, idempotencyKey: `payment-receipt:${first.payment.id}` });
    expect(receipts[0]?.subject).toContain(bill.number);
    expect(receipts[0]?.body).toContain("we received $5.00");
    expect(receipts[0]?.body).toContain("Still owed: $7.00.");
    expect(receipts[0]?.body).toMatch(/https:\/\/\S+\/b\/\S+/);

    await expectJson(await pay(owner, bill.id, 700), 201);
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

    await expectJson(await pay(owner, bill.id, 500), 201);
    expect(await receiptsOf(bill.id)).toHaveLength(0);

    await expectJson(await settings({ messages: { payment_receipts: null } }), 200);
    await expectJson(await pay(owner, bill.id, 500), 201);
    expect(await receiptsOf(bill.id)).toHaveLength(1);
  });

  it("refuse a setting that is not a boolean with a 422 naming the field", async () => {
    const owner = await signUp("receipt-bad");
    const response = await call("/v1/org/settings", { method: "PATCH", token: owner.access_token, body: { messages: { payment_receipts: "no" } } });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ errors: [expect.objectContaining({ path: "messages.payment_receipts" })] });
  });
});
