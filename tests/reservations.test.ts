import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { and, desc, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { creditBalances, creditLedger, creditReservations, cronRuns, usageEvents } from "../src/db/schema";
import worker from "../src/index";
import { PaymentRequired } from "../src/lib/errors";
import { newId } from "../src/lib/ids";
import { getBalance, grantCredits } from "../src/modules/money/credits/ledger";
import { releaseReservation, reserveCredits, settleReservation } from "../src/modules/money/credits/reservations";
import { signUp } from "./harness/api";
import { testCtx, testEnv } from "./harness/helpers";

const RECLAIM_CRON = "*/5 * * * *";

async function orgWithBalance(label: string, balance: number): Promise<string> {
  const { orgId } = await signUp(label);
  const ctx = testCtx();
  const current = await getBalance(ctx, orgId);
  await grantCredits(ctx, { orgId, kind: "adjustment", amount: balance - current, reference: { type: "test", id: newId("cle") } });
  return orgId;
}

async function entriesFor(reservationId: string) {
  return testCtx()
    .db.select({ kind: creditLedger.kind, amount: creditLedger.amount, balanceAfter: creditLedger.balanceAfter })
    .from(creditLedger)
    .where(and(eq(creditLedger.referenceType, "reservation"), eq(creditLedger.referenceId, reservationId)))
    .orderBy(creditLedger.id);
}

async function reservationRow(id: string) {
  const [row] = await testCtx().db.select().from(creditReservations).where(eq(creditReservations.id, id));
  return row;
}

async function ledgerSum(orgId: string) {
  const [row] = await testCtx()
    .db.select({ sum: sql<string>`sum(${creditLedger.amount})` })
    .from(creditLedger)
    .where(eq(creditLedger.orgId, orgId));
  return Number(row?.sum);
}

describe("reserve -> settle", () => {
  it("holds the estimate, then charges the actual cost and gives back the rest", async () => {
    const orgId = await orgWithBalance("settle-less", 100);
    const ctx = testCtx();
    const reservation = await reserveCredits(ctx, { orgId, amount: 30, feature: "ai.completions" });
    expect(reservation).toMatchObject({ status: "held", amount: 30, balance: 70 });
    expect(await getBalance(ctx, orgId)).toBe(70);

    const settlement = await settleReservation(ctx, reservation.id, 12, { provider: "openai", model: "gpt-4o-mini", priceSource: "exact", inputTokens: 900 });
    expect(settlement).toEqual({ reservationId: reservation.id, charged: 12, balance: 88, created: true });
    expect(await entriesFor(reservation.id)).toEqual([
      { kind: "reservation", amount: -30, balanceAfter: 70 },
      { kind: "release", amount: 30, balanceAfter: 100 },
      { kind: "usage", amount: -12, balanceAfter: 88 },
    ]);
    expect(await reservationRow(reservation.id)).toMatchObject({ status: "settled", charged: 12 });
    const events = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.reservationId, reservation.id));
    expect(events).toMatchObject([{ orgId, feature: "ai.completions", model: "gpt-4o-mini", credits: 12, priceSource: "exact", inputTokens: 900 }]);
  });

  it("when the work cost more than was held, charges what the balance covers and stops at zero", async () => {
    const orgId = await orgWithBalance("settle-more", 50);
    const ctx = testCtx();
    const reservation = await reserveCredits(ctx, { orgId, amount: 40, feature: "voice.call" });
    const settlement = await settleReservation(ctx, reservation.id, 80);
    expect(settlement).toMatchObject({ charged: 50, balance: 0 });
    expect(await getBalance(ctx, orgId)).toBe(0);
    expect(await ledgerSum(orgId)).toBe(0);
  });

  it("refuses to hold more than the balance with a 402 carrying balance and needed, and holds nothing", async () => {
    const orgId = await orgWithBalance("reserve-short", 5);
    const error = await reserveCredits(testCtx(), { orgId, amount: 6, feature: "ai.completions" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaymentRequired);
    expect(error).toMatchObject({ status: 402, balance: 5, needed: 6 });
    expect(await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, orgId))).toEqual([]);
    expect(await getBalance(testCtx(), orgId)).toBe(5);
  });

  it("50 concurrent holds of 1 credit against 20: exactly 20 are held, 30 get 402", async () => {
    const orgId = await orgWithBalance("reserve-race", 20);
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => reserveCredits(testCtx(), { orgId, amount: 1, feature: "ai.completions" })));
    const held = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
    expect(held).toHaveLength(20);
    expect(refused.every((e) => e instanceof PaymentRequired)).toBe(true);
    expect(refused).toHaveLength(30);
    expect(await getBalance(testCtx(), orgId)).toBe(0);

    await Promise.all(held.map((r) => settleReservation(testCtx(), r.id, 1)));
    expect(await getBalance(testCtx(), orgId)).toBe(0);
    expect(await ledgerSum(orgId)).toBe(0);
  });

  it("concurrent first holds of a brand-new organisation all succeed, and its free allowance is granted once", async () => {
    const { orgId } = await signUp("first-use-race");
    const held = await Promise.all(Array.from({ length: 8 }, () => reserveCredits(testCtx(), { orgId, amount: 10, feature: "ai.completions" })));
    expect(held).toHaveLength(8);
    const grants = await testCtx()
      .db.select()
      .from(creditLedger)
      .where(and(eq(creditLedger.orgId, orgId), eq(creditLedger.kind, "grant")));
    expect(grants).toHaveLength(1);
    expect(await getBalance(testCtx(), orgId)).toBe(grants[0]!.amount - 80);
  });

  it("settling twice at once charges once; both callers get the same settlement", async () => {
    const orgId = await orgWithBalance("settle-twice", 100);
    const reservation = await reserveCredits(testCtx(), { orgId, amount: 10, feature: "ai.completions" });
    const results = await Promise.all([settleReservation(testCtx(), reservation.id, 4), settleReservation(testCtx(), reservation.id, 4)]);
    expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    expect(results.map((r) => r.charged)).toEqual([4, 4]);
    expect(await getBalance(testCtx(), orgId)).toBe(96);
    expect((await entriesFor(reservation.id)).map((e) => e.kind)).toEqual(["reservation", "release", "usage"]);
  });

  it("a settle racing a release: exactly one wins, and the loser changes nothing", async () => {
    const orgId = await orgWithBalance("settle-vs-release", 100);
    const reservation = await reserveCredits(testCtx(), { orgId, amount: 10, feature: "ai.completions" });
    const [settled, released] = await Promise.allSettled([settleReservation(testCtx(), reservation.id, 7), releaseReservation(testCtx(), reservation.id)]);
    const row = await reservationRow(reservation.id);
    if (row?.status === "settled") {
      expect(settled.status).toBe("fulfilled");
      expect(released).toMatchObject({ status: "rejected", reason: { status: 409 } });
      expect(await getBalance(testCtx(), orgId)).toBe(93);
    } else {
      expect(row?.status).toBe("released");
      expect(released).toMatchObject({ status: "fulfilled", value: { released: 10 } });
      expect(settled).toMatchObject({ status: "rejected", reason: { status: 409 } });
      expect(await getBalance(testCtx(), orgId)).toBe(100);
    }
    expect(await ledgerSum(orgId)).toBe(await getBalance(testCtx(), orgId));
  });

  it("releasing gives the hold back once, however many times it is asked", async () => {
    const orgId = await orgWithBalance("release-twice", 100);
    const reservation = await reserveCredits(testCtx(), { orgId, amount: 25, feature: "ai.completions" });
    const results = await Promise.all([releaseReservation(testCtx(), reservation.id), releaseReservation(testCtx(), reservation.id)]);
    expect(results.map((r) => r.released).sort()).toEqual([0, 25]);
    expect(await getBalance(testCtx(), orgId)).toBe(100);
    expect((await entriesFor(reservation.id)).map((e) => e.kind)).toEqual(["reservation", "release"]);
  });
});

describe("expired holds", () => {
  it("are reclaimed by the cron job, and the run is recorded", async () => {
    const orgId = await orgWithBalance("reclaim", 100);
    const ctx = testCtx();
    const stale = await reserveCredits(ctx, { orgId, amount: 30, feature: "voice.call" });
    const fresh = await reserveCredits(ctx, { orgId, amount: 20, feature: "voice.call" });
    await ctx.db
      .update(creditReservations)
      .set({ expiresAt: new Date(Date.now() - 60_000) })
      .where(eq(creditReservations.id, stale.id));
    expect(await getBalance(ctx, orgId)).toBe(50);

    const scheduledTime = Date.now();
    const exec = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: RECLAIM_CRON, scheduledTime: new Date(scheduledTime) }), testEnv, exec);
    await waitOnExecutionContext(exec);

    expect(await reservationRow(stale.id)).toMatchObject({ status: "expired" });
    expect(await reservationRow(fresh.id)).toMatchObject({ status: "held" });
    expect(await getBalance(ctx, orgId)).toBe(80);
    expect(await entriesFor(stale.id)).toEqual([
      { kind: "reservation", amount: -30, balanceAfter: 70 },
      { kind: "release", amount: 30, balanceAfter: 80 },
    ]);
    const [run] = await ctx.db.select().from(cronRuns).where(eq(cronRuns.cron, RECLAIM_CRON)).orderBy(desc(cronRuns.startedAt)).limit(1);
    // The five-minute cron runs other jobs too (booking reminders); this one's entry is what counts.
    expect(run?.status).toBe("ok");
    expect(run?.jobs).toContainEqual(expect.objectContaining({ job: "credits.reclaim-expired", ok: true, detail: "1 reclaimed" }));
    expect(run?.scheduledAt.getTime()).toBe(scheduledTime);
  });

  it("a hold settled after it expired is still charged, from the balance", async () => {
    const orgId = await orgWithBalance("late-settle", 100);
    const ctx = testCtx();
    const reservation = await reserveCredits(ctx, { orgId, amount: 30, feature: "voice.call" });
    await ctx.db
      .update(creditReservations)
      .set({ expiresAt: new Date(Date.now() - 1_000) })
      .where(eq(creditReservations.id, reservation.id));
    await worker.scheduled(createScheduledController({ cron: RECLAIM_CRON, scheduledTime: new Date() }), testEnv, createExecutionContext());
    expect(await getBalance(ctx, orgId)).toBe(100);

    expect(await settleReservation(ctx, reservation.id, 12)).toMatchObject({ charged: 12, balance: 88, created: true });
    expect(await reservationRow(reservation.id)).toMatchObject({ status: "settled", charged: 12 });
    expect((await entriesFor(reservation.id)).map((e) => [e.kind, e.amount])).toEqual([
      ["reservation", -30],
      ["release", 30],
      ["usage", -12],
    ]);
    const [balance] = await ctx.db.select().from(creditBalances).where(eq(creditBalances.orgId, orgId));
    expect(balance?.balance).toBe(await ledgerSum(orgId));
  });
});
