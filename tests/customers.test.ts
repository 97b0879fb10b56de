import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, customerLedger, customers } from "../src/db/schema";
import type { ServiceCtx } from "../src/lib/context";
import { chargeWithinLimit, getCustomerBalance, recordCustomerLedgerEntry } from "../src/modules/retail/customers/service";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface Customer {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  address: string | null;
  credit_limit: number | null;
  tags: string[];
  balance: number;
  currency: string;
  archived_at: string | null;
  created_at: string;
  updated_at: string;
}

interface LedgerEntry {
  id: string;
  kind: string;
  amount: number;
  balance_after: number;
  currency: string;
  reference_type: string | null;
  reference_id: string | null;
  note: string | null;
  created_at: string;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

async function createCustomer(owner: SignedUp, body: Record<string, unknown>): Promise<Customer> {
  return expectJson<Customer>(await call("/v1/customers", { token: owner.access_token, body }), 201);
}

async function listCustomers(owner: SignedUp, query = ""): Promise<Page<Customer>> {
  return expectJson<Page<Customer>>(await call(`/v1/customers${query}`, { token: owner.access_token }), 200);
}

/** A service context acting in `owner`'s organisation, as the bills service will call the ledger. */
function actingIn(owner: SignedUp): ServiceCtx {
  return {
    ...testCtx(),
    actor: {
      kind: "user",
      userId: owner.user.id,
      apiKeyId: null,
      sessionId: null,
      orgId: owner.orgId,
      role: "owner",
      isSuperAdmin: false,
      can: () => true,
    },
  };
}

describe("adding a customer", () => {
  it("answers the customer with a zero balance in the organisation's currency and stores it", async () => {
    const owner = await signUp("cus-create");
    const created = await createCustomer(owner, {
      name: "Asha Traders",
      phone: "+14155550100",
      email: "asha@example.com",
      address: "12 MG Road",
      credit_limit: 500000,
      tags: ["wholesale", "wholesale", "vip"],
    });
    expect(created).toEqual({
      id: expect.stringMatching(/^cus_/),
      name: "Asha Traders",
      phone: "+14155550100",
      email: "asha@example.com",
      address: "12 MG Road",
      credit_limit: 500000,
      tags: ["wholesale", "vip"],
      balance: 0,
      currency: "USD",
      archived_at: null,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const [row] = await testCtx().db.select().from(customers).where(eq(customers.id, created.id));
    expect(row).toMatchObject({ orgId: owner.orgId, name: "Asha Traders", creditLimit: 500000 });
    const ledger = await testCtx().db.select().from(customerLedger).where(eq(customerLedger.customerId, created.id));
    expect(ledger).toEqual([]);
    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, owner.orgId), eq(auditEvents.targetId, created.id)));
    expect(audit.map((a) => a.action)).toEqual(["customer.created"]);
  });

  it("writes an opening balance as the first ledger entry, seen in the balance and the ledger", async () => {
    const owner = await signUp("cus-opening");
    const created = await createCustomer(owner, { name: "Ravi", opening_balance: 2500 });
    expect(created.balance).toBe(2500);
    expect(created.credit_limit).toBeNull();

    const fetched = await expectJson<Customer>(await call(`/v1/customers/${created.id}`, { token: owner.access_token }), 200);
    expect(fetched.balance).toBe(2500);
    const ledger = await expectJson<Page<LedgerEntry>>(await call(`/v1/customers/${created.id}/ledger`, { token: owner.access_token }), 200);
    expect(ledger).toEqual({
      data: [
        {
          id: expect.stringMatching(/^cul_/),
          kind: "opening_balance",
          amount: 2500,
          balance_after: 2500,
          currency: "USD",
          reference_type: null,
          reference_id: null,
          note: null,
          created_at: expect.stringMatching(/Z$/),
        },
      ],
      next_cursor: null,
    });
  });

  it("shows amounts in the organisation's currency", async () => {
    const owner = await signUp("cus-currency");
    await expectJson(await call(`/v1/orgs/${owner.orgId}`, { method: "PATCH", token: owner.access_token, body: { currency: "INR" } }), 200);
    const created = await createCustomer(owner, { name: "Meena", opening_balance: 10000 });
    expect(created.currency).toBe("INR");
    const ledger = await expectJson<Page<LedgerEntry>>(await call(`/v1/customers/${created.id}/ledger`, { token: owner.access_token }), 200);
    expect(ledger.data[0]?.currency).toBe("INR");
  });

  it("refuses a phone not in E.164 form, a bad email and a negative or fractional credit limit, storing nothing", async () => {
    const owner = await signUp("cus-invalid");
    const badPhone = await expectProblem(await call("/v1/customers", { token: owner.access_token, body: { name: "X", phone: "4155550100" } }), 422);
    expect(badPhone.errors?.map((e) => e.path)).toEqual(["phone"]);
    const badEmail = await expectProblem(await call("/v1/customers", { token: owner.access_token, body: { name: "X", email: "not-an-email" } }), 422);
    expect(badEmail.errors?.map((e) => e.path)).toEqual(["email"]);
    const negative = await expectProblem(await call("/v1/customers", { token: owner.access_token, body: { name: "X", credit_limit: -1 } }), 422);
    expect(negative.errors?.map((e) => e.path)).toEqual(["credit_limit"]);
    const fractional = await expectProblem(await call("/v1/customers", { token: owner.access_token, body: { name: "X", credit_limit: 10.5 } }), 422);
    expect(fractional.errors?.map((e) => e.path)).toEqual(["credit_limit"]);
    expect(await testCtx().db.select().from(customers).where(eq(customers.orgId, owner.orgId))).toEqual([]);
  });
});

describe("listing customers", () => {
  it("pages oldest first with balances, and searches name, phone and email case-insensitively", async () => {
    const owner = await signUp("cus-list");
    const asha = await createCustomer(owner, { name: "Asha Traders", phone: "+14155550100", opening_balance: 700 });
    const bala = await createCustomer(owner, { name: "Bala Stores", email: "Orders@Bala.example" });
    const chitra = await createCustomer(owner, { name: "Chitra", phone: "+919876543210", opening_balance: -300 });

    const first = await listCustomers(owner, "?limit=2");
    expect(first.data.map((c) => [c.id, c.balance])).toEqual([
      [asha.id, 700],
      [bala.id, 0],
    ]);
    expect(first.next_cursor).toBe(bala.id);
    const second = await listCustomers(owner, `?limit=2&cursor=${first.next_cursor}`);
    expect(second.data.map((c) => [c.id, c.balance])).toEqual([[chitra.id, -300]]);
    expect(second.next_cursor).toBeNull();

    expect((await listCustomers(owner, "?q=ASHA")).data.map((c) => c.id)).toEqual([asha.id]);
    expect((await listCustomers(owner, "?q=bala.EXAMPLE")).data.map((c) => c.id)).toEqual([bala.id]);
    expect((await listCustomers(owner, `?q=${encodeURIComponent("+9198765")}`)).data.map((c) => c.id)).toEqual([chitra.id]);
    // `%` is a literal, not a wildcard.
    expect((await listCustomers(owner, "?q=%25")).data).toEqual([]);
  });

  it("filters by tag", async () => {
    const owner = await signUp("cus-tags");
    const wholesale = await createCustomer(owner, { name: "A", tags: ["wholesale"] });
    const both = await createCustomer(owner, { name: "B", tags: ["vip", "wholesale"] });
    await createCustomer(owner, { name: "C", tags: ["vip"] });
    await createCustomer(owner, { name: "D" });
    expect((await listCustomers(owner, "?tag=wholesale")).data.map((c) => c.id)).toEqual([wholesale.id, both.id]);
    expect((await listCustomers(owner, "?tag=none")).data).toEqual([]);
  });

  it("never shows another organisation's customers", async () => {
    const a = await signUp("cus-list-a");
    const b = await signUp("cus-list-b");
    await createCustomer(a, { name: "Only in A" });
    expect((await listCustomers(b)).data).toEqual([]);
  });
});

describe("changing and archiving a customer", () => {
  it("updates the given fields, clears with null, and keeps the balance", async () => {
    const owner = await signUp("cus-patch");
    const created = await createCustomer(owner, { name: "Asha", phone: "+14155550100", credit_limit: 1000, opening_balance: 400 });
    const updated = await expectJson<Customer>(
      await call(`/v1/customers/${created.id}`, {
        method: "PATCH",
        token: owner.access_token,
        body: { name: "Asha T", phone: null, credit_limit: null, tags: ["vip"] },
      }),
      200,
    );
    expect(updated).toMatchObject({ id: created.id, name: "Asha T", phone: null, credit_limit: null, tags: ["vip"], balance: 400 });
    const [row] = await testCtx().db.select().from(customers).where(eq(customers.id, created.id));
    expect(row).toMatchObject({ name: "Asha T", phone: null, creditLimit: null });

    await expectProblem(await call(`/v1/customers/${created.id}`, { method: "PATCH", token: owner.access_token, body: { email: "nope" } }), 422);
    await expectProblem(await call(`/v1/customers/${created.id}`, { method: "PATCH", token: owner.access_token, body: { credit_limit: -5 } }), 422);
  });

  it("archives on delete: gone from the list, still readable with its ledger", async () => {
    const owner = await signUp("cus-archive");
    const created = await createCustomer(owner, { name: "Leaving", opening_balance: 100 });
    const response = await call(`/v1/customers/${created.id}`, { method: "DELETE", token: owner.access_token });
    expect(response.status).toBe(204);
    expect((await listCustomers(owner)).data).toEqual([]);
    const fetched = await expectJson<Customer>(await call(`/v1/customers/${created.id}`, { token: owner.access_token }), 200);
    expect(fetched.archived_at).toEqual(expect.stringMatching(/Z$/));
    expect(fetched.balance).toBe(100);
    const again = await call(`/v1/customers/${created.id}`, { method: "DELETE", token: owner.access_token });
    expect(again.status).toBe(204);
    const [row] = await testCtx().db.select().from(customers).where(eq(customers.id, created.id));
    expect(row?.archivedAt?.toISOString()).toBe(fetched.archived_at);
  });

  it("answers 404 for another organisation's customer and changes nothing", async () => {
    const a = await signUp("cus-404-a");
    const b = await signUp("cus-404-b");
    const created = await createCustomer(a, { name: "A's", opening_balance: 100 });
    await expectProblem(await call(`/v1/customers/${created.id}`, { token: b.access_token }), 404);
    await expectProblem(await call(`/v1/customers/${created.id}/ledger`, { token: b.access_token }), 404);
    await expectProblem(await call(`/v1/customers/${created.id}`, { method: "PATCH", token: b.access_token, body: { name: "Stolen" } }), 404);
    await expectProblem(await call(`/v1/customers/${created.id}`, { method: "DELETE", token: b.access_token }), 404);
    const [row] = await testCtx().db.select().from(customers).where(eq(customers.id, created.id));
    expect(row).toMatchObject({ name: "A's", archivedAt: null });
  });

  it("lets a viewer read but not write", async () => {
    const owner = await signUp("cus-viewer-owner");
    const viewer = await joinOrgAs(owner, "viewer", "cus-viewer");
    const created = await createCustomer(owner, { name: "Asha" });
    const opts = { token: viewer.access_token, orgId: owner.orgId };
    expect((await call("/v1/customers", opts)).status).toBe(200);
    expect((await call(`/v1/customers/${created.id}/ledger`, opts)).status).toBe(200);
    await expectProblem(await call("/v1/customers", { ...opts, body: { name: "New" } }), 403);
    await expectProblem(await call(`/v1/customers/${created.id}`, { ...opts, method: "PATCH", body: { name: "Changed" } }), 403);
    await expectProblem(await call(`/v1/customers/${created.id}`, { ...opts, method: "DELETE" }), 403);
    const rows = await testCtx().db.select().from(customers).where(eq(customers.orgId, owner.orgId));
    expect(rows.map((r) => [r.name, r.archivedAt])).toEqual([["Asha", null]]);
  });
});

describe("the customer ledger", () => {
  it("lists entries newest first with the running balance, across pages", async () => {
    const owner = await signUp("cus-ledger");
    const created = await createCustomer(owner, { name: "Asha", opening_balance: 2500 });
    const ctx = actingIn(owner);
    await recordCustomerLedgerEntry(ctx, { customerId: created.id, kind: "bill", amount: 4000, reference: { type: "bill", id: "bill_1" } });
    await recordCustomerLedgerEntry(ctx, { customerId: created.id, kind: "payment", amount: -3000, reference: null, note: "cash" });
    expect(await getCustomerBalance(ctx, created.id)).toBe(3500);

    const first = await expectJson<Page<LedgerEntry>>(await call(`/v1/customers/${created.id}/ledger?limit=2`, { token: owner.access_token }), 200);
    expect(first.data.map((e) => [e.kind, e.amount, e.balance_after, e.note])).toEqual([
      ["payment", -3000, 3500, "cash"],
      ["bill", 4000, 6500, null],
    ]);
    expect(first.data[1]).toMatchObject({ reference_type: "bill", reference_id: "bill_1" });
    expect(first.next_cursor).toBe(first.data[1]?.id);
    const second = await expectJson<Page<LedgerEntry>>(
      await call(`/v1/customers/${created.id}/ledger?limit=2&cursor=${first.next_cursor}`, { token: owner.access_token }),
      200,
    );
    expect(second.data.map((e) => [e.kind, e.amount, e.balance_after])).toEqual([["opening_balance", 2500, 2500]]);
    expect(second.next_cursor).toBeNull();

    const fetched = await expectJson<Customer>(await call(`/v1/customers/${created.id}`, { token: owner.access_token }), 200);
    expect(fetched.balance).toBe(3500);
    expect((await listCustomers(owner)).data[0]?.balance).toBe(3500);
  });

  it("lets exactly as many concurrent charges through as fit under the credit limit", async () => {
    const owner = await signUp("cus-race");
    const created = await createCustomer(owner, { name: "Asha", credit_limit: 10000 });
    const ctx = actingIn(owner);
    const attempts = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => chargeWithinLimit(ctx, { customerId: created.id, amount: 3000, reference: { type: "bill", id: `bill_${i}` } })),
    );
    const succeeded = attempts.filter((a) => a.status === "fulfilled");
    const refused = attempts.filter((a): a is PromiseRejectedResult => a.status === "rejected");
    expect(succeeded).toHaveLength(3);
    expect(refused).toHaveLength(7);
    for (const r of refused) expect(r.reason).toMatchObject({ status: 409 });

    const entries = await testCtx().db.select().from(customerLedger).where(eq(customerLedger.customerId, created.id));
    expect(entries.map((e) => [e.kind, e.amount])).toEqual([
      ["bill", 3000],
      ["bill", 3000],
      ["bill", 3000],
    ]);
    const fetched = await expectJson<Customer>(await call(`/v1/customers/${created.id}`, { token: owner.access_token }), 200);
    expect(fetched.balance).toBe(9000);
  });

  it("charges freely when there is no credit limit, and refuses an unknown customer", async () => {
    const owner = await signUp("cus-nolimit");
    const created = await createCustomer(owner, { name: "Asha" });
    const ctx = actingIn(owner);
    await expect(chargeWithinLimit(ctx, { customerId: created.id, amount: 99_999_999, reference: null })).resolves.toMatchObject({ balance: 99_999_999 });
    await expect(chargeWithinLimit(ctx, { customerId: "cus_missing", amount: 1, reference: null })).rejects.toMatchObject({ status: 404 });
  });
});
