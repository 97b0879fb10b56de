import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { billPayments, bills, customerLedger, customerPayments } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface Bill {
  id: string;
  number: string;
  status: string;
  total: number;
  amount_paid: number;
  balance_due: number;
}

interface Allocation {
  bill_id: string;
  number: string;
  amount: number;
  balance_due: number;
}

interface PaymentResult {
  id: string;
  amount: number;
  allocated: number;
  credit: number;
  method: string;
  allocations: Allocation[];
  customer_balance: number;
}

interface Statement {
  opening_balance: number;
  total_debits: number;
  total_credits: number;
  closing_balance: number;
  entries: { kind: string; description: string; bill_number: string | null; debit: number; credit: number; balance: number }[];
}

async function createCustomer(owner: SignedUp, body: Record<string, unknown> = {}): Promise<{ id: string }> {
  return expectJson(await call("/v1/customers", { token: owner.access_token, body: { name: "Ravi Stores", ...body } }), 201);
}

/** An issued bill of one untaxed line of `total` minor units. */
async function issuedBill(owner: SignedUp, customerId: string, total: number): Promise<Bill> {
  const body = { customer_id: customerId, issue: true, items: [{ description: "Goods", quantity: 1, unit_price: total }] };
  return expectJson<Bill>(await call("/v1/bills", { token: owner.access_token, body }), 201);
}

function payOnAccount(who: SignedUp, customerId: string, body: Record<string, unknown>, key?: string): Promise<Response> {
  return call(`/v1/customers/${customerId}/payments`, {
    token: who.access_token,
    orgId: who.orgId,
    body: { method: "cash", ...body },
    headers: key ? { "Idempotency-Key": key } : {},
  });
}

async function billOf(owner: SignedUp, id: string): Promise<Bill> {
  return expectJson<Bill>(await call(`/v1/bills/${id}`, { token: owner.access_token }), 200);
}

async function balanceOf(owner: SignedUp, customerId: string): Promise<number> {
  return (await expectJson<{ balance: number }>(await call(`/v1/customers/${customerId}`, { token: owner.access_token }), 200)).balance;
}

describe("payments on account", () => {
  it("pays the oldest unpaid bills first and leaves the rest of the newest one due", async () => {
    const owner = await signUp("acct-oldest");
    const customer = await createCustomer(owner);
    const first = await issuedBill(owner, customer.id, 10000);
    const second = await issuedBill(owner, customer.id, 5000);
    const third = await issuedBill(owner, customer.id, 3000);

    const paid = await expectJson<PaymentResult>(await payOnAccount(owner, customer.id, { amount: 12000, method: "upi", reference: "UPI-1" }), 201);
    expect(paid).toMatchObject({ amount: 12000, allocated: 12000, credit: 0, method: "upi", customer_balance: 6000 });
    expect(paid.allocations).toEqual([
      { bill_id: first.id, number: first.number, amount: 10000, balance_due: 0 },
      { bill_id: second.id, number: second.number, amount: 2000, balance_due: 3000 },
    ]);
    expect(await billOf(owner, first.id)).toMatchObject({ status: "paid", amount_paid: 10000 });
    expect(await billOf(owner, second.id)).toMatchObject({ status: "partially_paid", amount_paid: 2000, balance_due: 3000 });
    expect(await billOf(owner, third.id)).toMatchObject({ status: "issued", amount_paid: 0 });
    expect(await balanceOf(owner, customer.id)).toBe(6000);
    // One ledger entry for the money, however many bills it paid.
    const entries = await testCtx().db.select().from(customerLedger).where(eq(customerLedger.customerId, customer.id));
    expect(entries.filter((e) => e.kind === "payment")).toEqual([expect.objectContaining({ amount: -12000, referenceId: paid.id })]);
  });

  it("pays the named bills in the order given", async () => {
    const owner = await signUp("acct-named");
    const customer = await createCustomer(owner);
    const first = await issuedBill(owner, customer.id, 4000);
    const second = await issuedBill(owner, customer.id, 2500);
    const paid = await expectJson<PaymentResult>(await payOnAccount(owner, customer.id, { amount: 3000, bill_ids: [second.id, first.id] }), 201);
    expect(paid.allocations.map((a) => [a.bill_id, a.amount])).toEqual([
      [second.id, 2500],
      [first.id, 500],
    ]);
    expect(await billOf(owner, first.id)).toMatchObject({ status: "partially_paid", balance_due: 3500 });
  });

  it("keeps what is left as credit and uses it to pay the next bill when it is issued", async () => {
    const owner = await signUp("acct-credit");
    const customer = await createCustomer(owner);
    await issuedBill(owner, customer.id, 1800);
    const paid = await expectJson<PaymentResult>(await payOnAccount(owner, customer.id, { amount: 5000 }), 201);
    expect(paid).toMatchObject({ allocated: 1800, credit: 3200, customer_balance: -3200 });

    const next = await issuedBill(owner, customer.id, 2000);
    expect(next).toMatchObject({ status: "paid", amount_paid: 2000, balance_due: 0 });
    const after = await issuedBill(owner, customer.id, 2000);
    expect(after).toMatchObject({ status: "partially_paid", amount_paid: 1200, balance_due: 800 });
    expect(await balanceOf(owner, customer.id)).toBe(800);
    const credited = await testCtx().db.select().from(billPayments).where(eq(billPayments.billId, after.id));
    expect(credited).toEqual([expect.objectContaining({ method: "credit", amount: 1200 })]);
  });

  it("answers a repeated Idempotency-Key with the first payment, and refuses the key for a different payment", async () => {
    const owner = await signUp("acct-idem");
    const customer = await createCustomer(owner);
    await issuedBill(owner, customer.id, 3000);
    const first = await expectJson<PaymentResult>(await payOnAccount(owner, customer.id, { amount: 1000 }, "acct-key-1"), 201);
    const again = await expectJson<PaymentResult>(await payOnAccount(owner, customer.id, { amount: 1000 }, "acct-key-1"), 201);
    expect(again.id).toBe(first.id);
    expect(again.allocations).toEqual(first.allocations);
    await expectProblem(await payOnAccount(owner, customer.id, { amount: 2000 }, "acct-key-1"), 409);
    expect(await testCtx().db.select().from(customerPayments).where(eq(customerPayments.customerId, customer.id))).toHaveLength(1);
    expect(await balanceOf(owner, customer.id)).toBe(2000);
  });

  it("refuses bills that are not this customer's unpaid bills, and another organisation's customer", async () => {
    const owner = await signUp("acct-refuse");
    const customer = await createCustomer(owner);
    const other = await createCustomer(owner, { name: "Someone else" });
    const theirs = await issuedBill(owner, other.id, 1000);
    const mine = await issuedBill(owner, customer.id, 1000);
    const problem = await expectProblem(await payOnAccount(owner, customer.id, { amount: 500, bill_ids: [mine.id, theirs.id] }), 422);
    expect(problem.errors?.map((e) => e.path)).toEqual(["bill_ids.1"]);
    await expectProblem(await payOnAccount(owner, customer.id, { amount: 500, bill_ids: [mine.id, mine.id] }), 422);
    await expectProblem(await payOnAccount(owner, customer.id, { amount: 0 }), 422);

    const stranger = await signUp("acct-stranger");
    await expectProblem(await payOnAccount(stranger, customer.id, { amount: 500 }), 404);
    expect(await balanceOf(owner, customer.id)).toBe(1000);
  });

  it("lets a viewer read payments and the statement but not take a payment", async () => {
    const owner = await signUp("acct-viewer");
    const viewer = { ...(await joinOrgAs(owner, "viewer", "acct-viewer-v")), orgId: owner.orgId };
    const customer = await createCustomer(owner);
    await expectProblem(await payOnAccount(viewer, customer.id, { amount: 500 }), 403);
    await expectJson(await call(`/v1/customers/${customer.id}/payments`, { token: viewer.access_token, orgId: owner.orgId }), 200);
    await expectJson(await call(`/v1/customers/${customer.id}/statement`, { token: viewer.access_token, orgId: owner.orgId }), 200);
  });

  it("never pays a bill past its total when payments on account race bill payments", async () => {
    const owner = await signUp("acct-race");
    const customer = await createCustomer(owner);
    const billList = [await issuedBill(owner, customer.id, 6000), await issuedBill(owner, customer.id, 6000), await issuedBill(owner, customer.id, 6000)];
    const responses = await Promise.all([
      ...Array.from({ length: 10 }, () => payOnAccount(owner, customer.id, { amount: 3000 })),
      ...Array.from({ length: 10 }, (_, i) => {
        const bill = billList[i % 3] as Bill;
        return call(`/v1/bills/${bill.id}/payments`, { token: owner.access_token, body: { amount: 1000, method: "cash" } });
      }),
    ]);
    const statuses = responses.map((r) => r.status);
    // Payments on account always fit (any excess is credit); a direct bill payment may find its bill paid.
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(201));
    expect(statuses.slice(10).every((s) => s === 201 || s === 409)).toBe(true);
    const acceptedDirect = statuses.slice(10).filter((s) => s === 201).length * 1000;

    const rows = await testCtx().db.select().from(bills).where(eq(bills.customerId, customer.id));
    expect(rows.map((r) => r.amountPaid)).toEqual([6000, 6000, 6000]);
    for (const row of rows) {
      const paid = await testCtx().db.select().from(billPayments).where(eq(billPayments.billId, row.id));
      expect(paid.reduce((sum, p) => sum + p.amount, 0)).toBe(row.amountPaid);
    }
    // Everyone's money is on the ledger: 18000 billed, 30000 + the accepted direct payments received.
    expect(await balanceOf(owner, customer.id)).toBe(18000 - 30000 - acceptedDirect);
  });
});

describe("customer statements", () => {
  it("brings the earlier balance forward and lists the period's bills, payments and refunds with a running balance", async () => {
    const owner = await signUp("acct-statement");
    const customer = await createCustomer(owner);
    // An entry from last month, written as history (the API only writes entries dated now).
    await testCtx()
      .db.insert(customerLedger)
      .values({
        id: newId("cul"),
        orgId: owner.orgId,
        customerId: customer.id,
        kind: "opening_balance",
        amount: 2500,
        createdAt: new Date(Date.now() - 40 * 86_400_000),
      });
    const bill = await issuedBill(owner, customer.id, 4000);
    await expectJson(await payOnAccount(owner, customer.id, { amount: 6500 }), 201);
    await expectJson(
      await call(`/v1/bills/${bill.id}/refunds`, { token: owner.access_token, body: { amount: 1000, method: "cash", reason: "Short weight" } }),
      201,
    );

    const today = new Date().toISOString().slice(0, 10);
    const statement = await expectJson<Statement>(
      await call(`/v1/customers/${customer.id}/statement?from=${today}&to=${today}`, { token: owner.access_token }),
      200,
    );
    expect(statement.opening_balance).toBe(2500);
    expect(statement.entries.map((e) => [e.kind, e.bill_number, e.debit, e.credit, e.balance])).toEqual([
      ["bill", bill.number, 4000, 0, 6500],
      ["payment", null, 0, 6500, 0],
      ["credit_note", bill.number, 0, 1000, -1000],
      ["refund", bill.number, 1000, 0, 0],
    ]);
    expect(statement.entries[0]?.description).toBe(`Bill ${bill.number}`);
    expect(statement.entries[2]?.description).toContain("Short weight");
    expect(statement).toMatchObject({ total_debits: 5000, total_credits: 7500, closing_balance: 0 });
    expect(await balanceOf(owner, customer.id)).toBe(statement.closing_balance);

    const whole = await expectJson<Statement>(await call(`/v1/customers/${customer.id}/statement`, { token: owner.access_token }), 200);
    expect(whole).toMatchObject({ opening_balance: 0, closing_balance: 0 });
    expect(whole.entries).toHaveLength(5);
    const later = await expectJson<Statement>(
      await call(`/v1/customers/${customer.id}/statement?from=2099-01-01&to=2099-01-31`, { token: owner.access_token }),
      200,
    );
    expect(later).toMatchObject({ opening_balance: 0, closing_balance: 0, entries: [] });
  });

  it("refuses a reversed or malformed period", async () => {
    const owner = await signUp("acct-statement-bad");
    const customer = await createCustomer(owner);
    await expectProblem(await call(`/v1/customers/${customer.id}/statement?from=2026-05-02&to=2026-05-01`, { token: owner.access_token }), 422);
    await expectProblem(await call(`/v1/customers/${customer.id}/statement?from=yesterday`, { token: owner.access_token }), 422);
  });
});
