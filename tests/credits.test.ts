import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, creditBalances, creditLedger, users } from "../src/db/schema";
import { PaymentRequired } from "../src/lib/errors";
import { debitCredits, getBalance, grantCredits } from "../src/modules/money/credits/ledger";
import { creditsFor, lookupPrice } from "../src/modules/money/credits/prices";
import { releaseReservation, reserveCredits, settleReservation } from "../src/modules/money/credits/reservations";
import { PLANS, periodOf } from "../src/modules/money/plans/plans";
import { call, expectJson, signUp } from "./harness/api";
import { expectProblem, setCreditBalance, testCtx } from "./harness/helpers";

interface LedgerEntry {
  id: string;
  kind: string;
  amount: number;
  balance_after: number;
  reference: { type: string; id: string };
  note: string | null;
}

const FREE_CREDITS = PLANS.free.monthlyCredits;

async function ledgerSum(orgId: string): Promise<number> {
  const [row] = await testCtx()
    .db.select({ sum: sql<string>`coalesce(sum(${creditLedger.amount}), 0)` })
    .from(creditLedger)
    .where(eq(creditLedger.orgId, orgId));
  return Number(row?.sum);
}

async function storedBalance(orgId: string): Promise<number | undefined> {
  const [row] = await testCtx().db.select().from(creditBalances).where(eq(creditBalances.orgId, orgId));
  return row?.balance;
}

async function superAdmin(label: string) {
  const staff = await signUp(label);
  await testCtx().db.update(users).set({ isSuperAdmin: true }).where(eq(users.id, staff.user.id));
  return staff;
}

describe("credit balance and the free allowance", () => {
  it("a new organisation starts with the free plan's monthly credits, granted once however many first reads race", async () => {
    const owner = await signUp("free-start");
    const responses = await Promise.all(Array.from({ length: 5 }, () => call("/v1/credits/balance", { token: owner.access_token })));
    for (const response of responses) expect(await expectJson(response, 200)).toEqual({ balance: FREE_CREDITS });

    const page = await expectJson<{ data: LedgerEntry[]; next_cursor: string | null }>(await call("/v1/credits/ledger", { token: owner.access_token }), 200);
    expect(page.data).toEqual([
      expect.objectContaining({
        kind: "grant",
        amount: FREE_CREDITS,
        balance_after: FREE_CREDITS,
        reference: { type: "plan_period", id: `free:${periodOf(new Date())}` },
      }),
    ]);
    expect(page.next_cursor).toBeNull();
  });
});

describe("grantCredits", () => {
  it("counts a reference once when the same grant arrives three times at once", async () => {
    const owner = await signUp("grant-thrice");
    const reference = { type: "stripe_event", id: "evt_3PmZ0aFx" };
    const results = await Promise.all(
      Array.from({ length: 3 }, () => grantCredits(testCtx(), { orgId: owner.orgId, amount: 10_000, kind: "purchase", reference })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.entryId)).size).toBe(1);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(FREE_CREDITS + 10_000);
    const purchases = await testCtx()
      .db.select()
      .from(creditLedger)
      .where(and(eq(creditLedger.orgId, owner.orgId), eq(creditLedger.kind, "purchase")));
    expect(purchases).toMatchObject([{ amount: 10_000, referenceType: "stripe_event", referenceId: "evt_3PmZ0aFx" }]);

    // A later redelivery is a no-op as well.
    const again = await grantCredits(testCtx(), { orgId: owner.orgId, amount: 10_000, kind: "purchase", reference });
    expect(again).toEqual({ entryId: purchases[0]?.id, balance: FREE_CREDITS + 10_000, created: false });
  });

  it("the same reference under another kind is a separate entry (a refund of a purchase)", async () => {
    const owner = await signUp("grant-kinds");
    const reference = { type: "checkout_session", id: "cs_test_a1" };
    await grantCredits(testCtx(), { orgId: owner.orgId, amount: 1_000, kind: "purchase", reference });
    const refund = await grantCredits(testCtx(), { orgId: owner.orgId, amount: -1_000, kind: "refund", reference });
    expect(refund).toMatchObject({ created: true, balance: FREE_CREDITS });
  });

  it("an expiry never takes the balance below zero and records what it actually removed", async () => {
    const owner = await signUp("expiry-clamp");
    await setCreditBalance(owner.orgId, 300);
    const result = await grantCredits(testCtx(), { orgId: owner.orgId, amount: 5_000, kind: "expiry", reference: { type: "plan_period", id: "free:2026-04" } });
    expect(result).toMatchObject({ balance: 0, created: true });
    const [entry] = await testCtx().db.select().from(creditLedger).where(eq(creditLedger.id, result.entryId));
    expect(entry).toMatchObject({ kind: "expiry", amount: -300, balanceAfter: 0 });
    expect(entry?.note).toContain("asked -5000, removed 300");
  });

  it("refuses a purchase that would take credits away", async () => {
    const owner = await signUp("bad-purchase");
    await expect(grantCredits(testCtx(), { orgId: owner.orgId, amount: -5, kind: "purchase", reference: { type: "x", id: "1" } })).rejects.toMatchObject({
      status: 422,
    });
    expect(await getBalance(testCtx(), owner.orgId)).toBe(FREE_CREDITS);
  });
});

describe("debits", () => {
  it("50 concurrent debits of 1 credit against a balance of 20: exactly 20 succeed and the balance ends at 0", async () => {
    const owner = await signUp("debit-race");
    await setCreditBalance(owner.orgId, 20);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => debitCredits(testCtx(), { orgId: owner.orgId, amount: 1, reference: { type: "test_call", id: `call-${i}` } })),
    );
    const succeeded = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
    expect(succeeded).toHaveLength(20);
    expect(refused).toHaveLength(30);
    for (const reason of refused) expect(reason).toBeInstanceOf(PaymentRequired);
    expect(await storedBalance(owner.orgId)).toBe(0);
    expect(await ledgerSum(owner.orgId)).toBe(0);
  });

  it("the sum of ledger entries equals the balance after a mixed, concurrent workload", async () => {
    const owner = await signUp("mixed");
    const ctx = testCtx();
    const orgId = owner.orgId;
    const reservations = await Promise.all(Array.from({ length: 6 }, () => reserveCredits(ctx, { orgId, amount: 40, feature: "ai.completions" })));
    await Promise.allSettled([
      ...Array.from({ length: 10 }, (_, i) => debitCredits(ctx, { orgId, amount: 7, reference: { type: "call", id: `mixed-${i}` } })),
      ...Array.from({ length: 3 }, (_, i) => grantCredits(ctx, { orgId, amount: 250, kind: "purchase", reference: { type: "evt", id: `p-${i}` } })),
      grantCredits(ctx, { orgId, amount: 250, kind: "purchase", reference: { type: "evt", id: "p-0" } }),
      grantCredits(ctx, { orgId, amount: -120, kind: "adjustment", reference: { type: "adjustment", id: "a-1" } }),
      grantCredits(ctx, { orgId, amount: 90, kind: "expiry", reference: { type: "plan_period", id: "free:2026-01" } }),
      settleReservation(ctx, reservations[0]!.id, 12),
      settleReservation(ctx, reservations[1]!.id, 40),
      settleReservation(ctx, reservations[2]!.id, 75),
      releaseReservation(ctx, reservations[3]!.id),
      releaseReservation(ctx, reservations[3]!.id),
      settleReservation(ctx, reservations[4]!.id, 3),
      settleReservation(ctx, reservations[4]!.id, 3),
      // reservations[5] stays held: held credits are out of the balance and in the ledger.
    ]);
    const balance = await storedBalance(orgId);
    expect(balance).toBe(await ledgerSum(orgId));
    // 1000 free - 70 debits + 750 purchases - 120 - 90 - (12 + 40 + 75 + 3) settled - 40 held
    expect(balance).toBe(FREE_CREDITS - 70 + 750 - 120 - 90 - 130 - 40);
  });
});

describe("GET /v1/credits/ledger", () => {
  it("lists entries newest first, page by page", async () => {
    const owner = await signUp("ledger-pages");
    for (let i = 1; i <= 3; i++) await grantCredits(testCtx(), { orgId: owner.orgId, amount: i, kind: "refund", reference: { type: "r", id: String(i) } });
    const first = await expectJson<{ data: LedgerEntry[]; next_cursor: string }>(await call("/v1/credits/ledger?limit=2", { token: owner.access_token }), 200);
    expect(first.data.map((e) => e.amount)).toEqual([3, 2]);
    expect(first.data.map((e) => e.balance_after)).toEqual([FREE_CREDITS + 6, FREE_CREDITS + 3]);
    const second = await expectJson<{ data: LedgerEntry[]; next_cursor: string | null }>(
      await call(`/v1/credits/ledger?limit=2&cursor=${first.next_cursor}`, { token: owner.access_token }),
      200,
    );
    expect(second.data.map((e) => [e.kind, e.amount])).toEqual([
      ["refund", 1],
      ["grant", FREE_CREDITS],
    ]);
    expect(second.next_cursor).toBeNull();
  });
});

describe("POST /v1/credits/adjustments", () => {
  it("is refused with 403 to anyone but platform staff, even an organisation's owner", async () => {
    const owner = await signUp("adjust-owner");
    const body = { org_id: owner.orgId, amount: 1_000_000, note: "free money" };
    const problem = await expectProblem(await call("/v1/credits/adjustments", { token: owner.access_token, body }), 403);
    expect(problem.detail).toBe("Only platform staff may adjust credits");
    expect(await getBalance(testCtx(), owner.orgId)).toBe(FREE_CREDITS);
  });

  it("lets a super-admin add and take away credits, audited in the organisation, once per Idempotency-Key", async () => {
    const staff = await superAdmin("adjust-staff");
    const customer = await signUp("adjust-customer");
    const headers = { "Idempotency-Key": "ticket-4711" };
    const body = { org_id: customer.orgId, amount: 500, note: "Goodwill for the outage" };
    const created = await expectJson<{ entry: LedgerEntry; balance: number }>(
      await call("/v1/credits/adjustments", { token: staff.access_token, body, headers }),
      201,
    );
    expect(created).toMatchObject({ balance: FREE_CREDITS + 500, entry: { kind: "adjustment", amount: 500, note: "Goodwill for the outage" } });
    const repeat = await expectJson<{ entry: LedgerEntry; balance: number }>(
      await call("/v1/credits/adjustments", { token: staff.access_token, body, headers }),
      200,
    );
    expect(repeat.entry.id).toBe(created.entry.id);
    await expectProblem(await call("/v1/credits/adjustments", { token: staff.access_token, body: { ...body, note: "something else" }, headers }), 409);

    const taken = await expectJson<{ entry: LedgerEntry; balance: number }>(
      await call("/v1/credits/adjustments", { token: staff.access_token, body: { org_id: customer.orgId, amount: -9_999, note: "Chargeback" } }),
      201,
    );
    expect(taken).toMatchObject({ balance: 0, entry: { amount: -(FREE_CREDITS + 500), balance_after: 0 } });

    const balance = await expectJson<{ balance: number }>(await call("/v1/credits/balance", { token: customer.access_token }), 200);
    expect(balance.balance).toBe(0);
    const audited = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, customer.orgId), eq(auditEvents.action, "credits.adjusted")));
    expect(audited.map((a) => [a.actorUserId, a.targetId, a.metadata])).toEqual([
      [staff.user.id, created.entry.id, { requested: 500, applied: 500, balance: FREE_CREDITS + 500, note: "Goodwill for the outage" }],
      [staff.user.id, taken.entry.id, { requested: -9_999, applied: -(FREE_CREDITS + 500), balance: 0, note: "Chargeback" }],
    ]);
  });

  it("answers 404 for an organisation that does not exist and 422 for a zero amount", async () => {
    const staff = await superAdmin("adjust-404");
    await expectProblem(
      await call("/v1/credits/adjustments", { token: staff.access_token, body: { org_id: "org_01ZZZZZZZZZZZZZZZZZZZZZZZZ", amount: 5, note: "x" } }),
      404,
    );
    const invalid = await expectProblem(
      await call("/v1/credits/adjustments", { token: staff.access_token, body: { org_id: staff.orgId, amount: 0, note: "x" } }),
      422,
    );
    expect(invalid.errors).toEqual([{ path: "amount", message: "must not be zero" }]);
  });
});

describe("price map", () => {
  it("finds a price by exact model, then longest prefix, then the provider default", () => {
    expect(lookupPrice("openai", "gpt-4o-mini")).toMatchObject({ source: "exact", price: { inputPerMillionTokens: 180 } });
    expect(lookupPrice("openai", "gpt-4o-mini-2024-07-18")).toMatchObject({ source: "prefix", price: { inputPerMillionTokens: 180 } });
    expect(lookupPrice("openai", "gpt-4o-mini-tts-2025-03-20")).toMatchObject({ source: "prefix", price: { perThousandCharacters: 18 } });
    expect(lookupPrice("openai", "o9-preview")).toMatchObject({ source: "provider_default", price: { inputPerMillionTokens: 3_000 } });
  });

  it("charges whole credits, rounding the total up, without floating-point drift", () => {
    const { price } = lookupPrice("openai", "gpt-4o-mini");
    expect(creditsFor(price, { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(900);
    expect(creditsFor(price, { inputTokens: 10, outputTokens: 10 })).toBe(1);
    expect(creditsFor(price, {})).toBe(0);
    // 0.06 credits a second is not exact in binary; 100 seconds must still cost exactly 6.
    expect(creditsFor(lookupPrice("openai", "gpt-4o-mini-transcribe").price, { audioSeconds: 100 })).toBe(6);
  });
});
