import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, merchantLedger, merchants } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface Merchant {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  address: string | null;
  tax_id: string | null;
  notes: string | null;
  balance_owed: number;
  currency: string;
  archived_at: string | null;
  created_at: string;
  updated_at: string;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

async function createMerchant(owner: SignedUp, body: Record<string, unknown>): Promise<Merchant> {
  return expectJson<Merchant>(await call("/v1/merchants", { token: owner.access_token, body }), 201);
}

async function listMerchants(owner: SignedUp, query = ""): Promise<Page<Merchant>> {
  return expectJson<Page<Merchant>>(await call(`/v1/merchants${query}`, { token: owner.access_token }), 200);
}

describe("merchants", () => {
  it("adds a supplier with its details and stores it in the organisation", async () => {
    const owner = await signUp("mer-create");
    const created = await createMerchant(owner, {
      name: "Fresh Farms",
      phone: "+14155550100",
      email: "orders@freshfarms.example",
      address: "APMC Yard",
      tax_id: "29ABCDE1234F1Z5",
      notes: "Delivers Mondays",
    });
    expect(created).toEqual({
      id: expect.stringMatching(/^mer_/),
      name: "Fresh Farms",
      phone: "+14155550100",
      email: "orders@freshfarms.example",
      address: "APMC Yard",
      tax_id: "29ABCDE1234F1Z5",
      notes: "Delivers Mondays",
      balance_owed: 0,
      currency: "USD",
      archived_at: null,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const [row] = await testCtx().db.select().from(merchants).where(eq(merchants.id, created.id));
    expect(row).toMatchObject({ orgId: owner.orgId, taxId: "29ABCDE1234F1Z5" });
    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, owner.orgId), eq(auditEvents.targetId, created.id)));
    expect(audit.map((a) => a.action)).toEqual(["merchant.created"]);
  });

  it("refuses a phone not in E.164 form and a bad email, storing nothing", async () => {
    const owner = await signUp("mer-invalid");
    const bad = await expectProblem(await call("/v1/merchants", { token: owner.access_token, body: { name: "X", phone: "12345", email: "x@" } }), 422);
    expect(bad.errors?.map((e) => e.path).sort()).toEqual(["email", "phone"]);
    expect(await testCtx().db.select().from(merchants).where(eq(merchants.orgId, owner.orgId))).toEqual([]);
  });

  it("pages oldest first and searches name, phone and email case-insensitively", async () => {
    const owner = await signUp("mer-list");
    const a = await createMerchant(owner, { name: "Fresh Farms" });
    const b = await createMerchant(owner, { name: "Dairy Co", email: "Sales@Dairy.example" });
    const c = await createMerchant(owner, { name: "Grain Hub", phone: "+919812345678" });
    const first = await listMerchants(owner, "?limit=2");
    expect(first.data.map((m) => m.id)).toEqual([a.id, b.id]);
    const second = await listMerchants(owner, `?limit=2&cursor=${first.next_cursor}`);
    expect(second).toEqual({ data: [expect.objectContaining({ id: c.id })], next_cursor: null });
    expect((await listMerchants(owner, "?q=FRESH")).data.map((m) => m.id)).toEqual([a.id]);
    expect((await listMerchants(owner, "?q=dairy.example")).data.map((m) => m.id)).toEqual([b.id]);
    expect((await listMerchants(owner, "?q=98123")).data.map((m) => m.id)).toEqual([c.id]);
  });

  it("updates fields, clears with null, and archives on delete", async () => {
    const owner = await signUp("mer-patch");
    const created = await createMerchant(owner, { name: "Fresh Farms", notes: "old" });
    const updated = await expectJson<Merchant>(
      await call(`/v1/merchants/${created.id}`, { method: "PATCH", token: owner.access_token, body: { name: "Fresh Farms Ltd", notes: null, tax_id: "TX1" } }),
      200,
    );
    expect(updated).toMatchObject({ name: "Fresh Farms Ltd", notes: null, tax_id: "TX1" });
    expect((await call(`/v1/merchants/${created.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    expect((await listMerchants(owner)).data).toEqual([]);
    const fetched = await expectJson<Merchant>(await call(`/v1/merchants/${created.id}`, { token: owner.access_token }), 200);
    expect(fetched.archived_at).toEqual(expect.stringMatching(/Z$/));
  });

  it("answers 404 for another organisation's merchant and changes nothing", async () => {
    const a = await signUp("mer-404-a");
    const b = await signUp("mer-404-b");
    const created = await createMerchant(a, { name: "A's supplier" });
    await expectProblem(await call(`/v1/merchants/${created.id}`, { token: b.access_token }), 404);
    await expectProblem(await call(`/v1/merchants/${created.id}`, { method: "PATCH", token: b.access_token, body: { name: "Stolen" } }), 404);
    await expectProblem(await call(`/v1/merchants/${created.id}`, { method: "DELETE", token: b.access_token }), 404);
    expect((await listMerchants(b)).data).toEqual([]);
    const [row] = await testCtx().db.select().from(merchants).where(eq(merchants.id, created.id));
    expect(row).toMatchObject({ name: "A's supplier", archivedAt: null });
  });

  it("writes an opening balance as the first ledger entry and lists only merchants we owe with owing=true", async () => {
    const owner = await signUp("mer-owing");
    const owed = await createMerchant(owner, { name: "Fresh Farms", opening_balance: 50000 });
    const advance = await createMerchant(owner, { name: "Dairy Co", opening_balance: -1500 });
    const settled = await createMerchant(owner, { name: "Grain Hub" });
    expect([owed.balance_owed, advance.balance_owed, settled.balance_owed]).toEqual([50000, -1500, 0]);
    const fetched = await expectJson<Merchant>(await call(`/v1/merchants/${owed.id}`, { token: owner.access_token }), 200);
    expect(fetched).toMatchObject({ balance_owed: 50000, currency: "USD" });
    const ledger = await expectJson<Page<{ kind: string; amount: number; balance_after: number; reference_id: string | null }>>(
      await call(`/v1/merchants/${owed.id}/ledger`, { token: owner.access_token }),
      200,
    );
    expect(ledger).toEqual({
      data: [expect.objectContaining({ kind: "opening_balance", amount: 50000, balance_after: 50000, reference_id: null })],
      next_cursor: null,
    });
    const all = await listMerchants(owner);
    expect(all.data.map((m) => [m.name, m.balance_owed])).toEqual([
      ["Fresh Farms", 50000],
      ["Dairy Co", -1500],
      ["Grain Hub", 0],
    ]);
    expect((await listMerchants(owner, "?owing=true")).data.map((m) => m.id)).toEqual([owed.id]);
    expect((await listMerchants(owner, "?owing=true&q=dairy")).data).toEqual([]);
    expect((await listMerchants(owner, "?owing=false")).data).toHaveLength(3);
    await expectProblem(await call("/v1/merchants?owing=yes", { token: owner.access_token }), 422);
    const rows = await testCtx().db.select().from(merchantLedger).where(eq(merchantLedger.orgId, owner.orgId));
    expect(rows.map((r) => [r.merchantId, r.kind, r.amount]).sort()).toEqual(
      [
        [owed.id, "opening_balance", 50000],
        [advance.id, "opening_balance", -1500],
      ].sort(),
    );
  });

  it("lets a viewer read but not write", async () => {
    const owner = await signUp("mer-viewer-owner");
    const viewer = await joinOrgAs(owner, "viewer", "mer-viewer");
    const created = await createMerchant(owner, { name: "Fresh Farms" });
    const opts = { token: viewer.access_token, orgId: owner.orgId };
    expect((await call(`/v1/merchants/${created.id}`, opts)).status).toBe(200);
    await expectProblem(await call("/v1/merchants", { ...opts, body: { name: "New" } }), 403);
    await expectProblem(await call(`/v1/merchants/${created.id}`, { ...opts, method: "PATCH", body: { name: "Changed" } }), 403);
    await expectProblem(await call(`/v1/merchants/${created.id}`, { ...opts, method: "DELETE" }), 403);
    const rows = await testCtx().db.select().from(merchants).where(eq(merchants.orgId, owner.orgId));
    expect(rows.map((r) => [r.name, r.archivedAt])).toEqual([["Fresh Farms", null]]);
  });
});
