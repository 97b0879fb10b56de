import { and, eq } from "drizzle-orm";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { creditBalances, creditLedger, messages, stripeEvents, subscriptions } from "../src/db/schema";
import { loadConfig } from "../src/env";
import { AppError } from "../src/lib/errors";
import { getBalance } from "../src/modules/money/credits/ledger";
import { verifyStripeEvent } from "../src/modules/money/payments/webhooks";
import { PLANS } from "../src/modules/money/plans/plans";
import vector from "./fixtures/webhooks/stripe-signature.json";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { fakeStripe, STRIPE_TEST_WEBHOOK_SECRET, sendStripeEvent, stripeEvent, stripeSignature } from "./harness/fakes";
import { expectProblem, fetchWithEnv, testCtx, testEnv } from "./harness/helpers";

interface Receipt {
  received: true;
  duplicate: boolean;
}

async function startCheckout(owner: SignedUp, body: { plan?: string; credit_pack?: string }): Promise<string> {
  const reply = await expectJson<{ session_id: string }>(await call("/v1/payments/checkout", { token: owner.access_token, body }), 201);
  return reply.session_id;
}

/** An organisation that went through Checkout for a plan and paid: what Stripe would send next. */
async function paidPlan(label: string, plan = "basic") {
  const owner = await signUp(label);
  const paid = await fakeStripe.completeCheckout(await startCheckout(owner, { plan }));
  if (!paid.subscription || !paid.invoice) throw new Error("a plan checkout should make a subscription and an invoice");
  return { owner, session: paid.session, subscription: paid.subscription, invoice: paid.invoice };
}

const ledgerOf = (orgId: string) => testCtx().db.select().from(creditLedger).where(eq(creditLedger.orgId, orgId)).orderBy(creditLedger.id);
const balanceOf = (orgId: string) => getBalance(testCtx(), orgId);
const subscriptionRows = (orgId: string) => testCtx().db.select().from(subscriptions).where(eq(subscriptions.orgId, orgId));
const eventRow = async (id: string) => (await testCtx().db.select().from(stripeEvents).where(eq(stripeEvents.id, id)))[0];

describe("the Stripe-Signature check", () => {
  const config = (secret: string) => loadConfig({ ...testEnv, STRIPE_WEBHOOK_SECRET: secret });
  const example = vector.header_example;

  it("accepts the stripe-node header example with the SDK's async SubtleCrypto verification", async () => {
    const event = await verifyStripeEvent(config(example.secret), example.payload, example.header, example.timestamp);
    expect(event).toMatchObject({ id: "evt_test_webhook", object: "event" });
    // At the edge of the 300 s tolerance it still verifies; one second later it is stale.
    await expect(verifyStripeEvent(config(example.secret), example.payload, example.header, example.timestamp + 300)).resolves.toBeTruthy();
    await expect(verifyStripeEvent(config(example.secret), example.payload, example.header, example.timestamp + 301)).rejects.toMatchObject({
      status: 400,
      detail: expect.stringContaining("tolerance"),
    });
  });

  it("refuses a tampered body, a wrong secret, and a header without a v1 signature", async () => {
    const tampered = example.payload.replace("evt_test_webhook", "evt_test_webhooK");
    for (const attempt of [
      verifyStripeEvent(config(example.secret), tampered, example.header, example.timestamp),
      verifyStripeEvent(config("whsec_another_secret"), example.payload, example.header, example.timestamp),
      verifyStripeEvent(config(example.secret), example.payload, `t=${example.timestamp}`, example.timestamp),
      verifyStripeEvent(config(example.secret), example.payload, undefined, example.timestamp),
    ]) {
      const error = await attempt.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).status).toBe(400);
    }
  });

  it("computes the stripe-node HMAC vectors with SubtleCrypto", async () => {
    const crypto = Stripe.createSubtleCryptoProvider();
    for (const { payload, expected_hex } of vector.hmac_vectors.cases) {
      expect(await crypto.computeHMACSignatureAsync(payload, vector.hmac_vectors.secret)).toBe(expected_hex);
    }
  });
});

describe("Stripe webhooks: credit packs", () => {
  it("grant a paid credit pack once, however often the event is delivered", async () => {
    const owner = await signUp("wh-pack");
    const before = await balanceOf(owner.orgId);
    const { session } = await fakeStripe.completeCheckout(await startCheckout(owner, { credit_pack: "credits_1000" }));
    const event = stripeEvent("checkout.session.completed", session);

    const first = await expectJson<Receipt>(await sendStripeEvent(event), 200);
    expect(first).toEqual({ received: true, duplicate: false });
    for (let i = 0; i < 2; i++) expect(await expectJson<Receipt>(await sendStripeEvent(event), 200)).toEqual({ received: true, duplicate: true });

    expect(await balanceOf(owner.orgId)).toBe(before + 1_000);
    const purchases = (await ledgerOf(owner.orgId)).filter((e) => e.kind === "purchase");
    expect(purchases).toEqual([expect.objectContaining({ amount: 1_000, referenceType: "checkout_session", referenceId: session.id })]);
    expect(await eventRow(event.id)).toMatchObject({ type: "checkout.session.completed", processedAt: expect.any(Date) });
  });

  it("grant once when three copies of an event arrive at the same time", async () => {
    const owner = await signUp("wh-pack-race");
    const before = await balanceOf(owner.orgId);
    const { session } = await fakeStripe.completeCheckout(await startCheckout(owner, { credit_pack: "credits_10000" }));
    const event = stripeEvent("checkout.session.completed", session);

    const replies = await Promise.all([sendStripeEvent(event), sendStripeEvent(event), sendStripeEvent(event)]);
    const receipts = await Promise.all(replies.map((r) => expectJson<Receipt>(r, 200)));
    expect(receipts.filter((r) => !r.duplicate)).toHaveLength(1);

    expect(await balanceOf(owner.orgId)).toBe(before + 10_000);
    expect((await ledgerOf(owner.orgId)).filter((e) => e.kind === "purchase")).toHaveLength(1);
    expect(await testCtx().db.select().from(stripeEvents).where(eq(stripeEvents.id, event.id))).toHaveLength(1);
  });

  it("grant once when a second event reports the same paid session", async () => {
    const owner = await signUp("wh-pack-twice");
    const before = await balanceOf(owner.orgId);
    const { session } = await fakeStripe.completeCheckout(await startCheckout(owner, { credit_pack: "credits_1000" }));
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    // Another event id about the same session (Stripe's async-payment event, or a replay from the dashboard).
    const again = await expectJson<Receipt>(await sendStripeEvent(stripeEvent("checkout.session.async_payment_succeeded", session)), 200);
    expect(again.duplicate).toBe(false);
    expect(await balanceOf(owner.orgId)).toBe(before + 1_000);
  });

  it("roll back the event's record when applying it fails, so Stripe's retry applies it", async () => {
    const owner = await signUp("wh-pack-rollback");
    await balanceOf(owner.orgId);
    const { session } = await fakeStripe.completeCheckout(await startCheckout(owner, { credit_pack: "credits_1000" }));
    const event = stripeEvent("checkout.session.completed", session);
    // A balance this close to the column's limit makes the grant fail inside the transaction.
    const nearLimit = 2_147_483_647 - 10;
    await testCtx().db.update(creditBalances).set({ balance: nearLimit }).where(eq(creditBalances.orgId, owner.orgId));

    const failed = await sendStripeEvent(event);
    expect(failed.status).toBe(500);
    expect(await eventRow(event.id)).toBeUndefined();
    expect((await ledgerOf(owner.orgId)).filter((e) => e.kind === "purchase")).toEqual([]);

    await testCtx().db.update(creditBalances).set({ balance: 0 }).where(eq(creditBalances.orgId, owner.orgId));
    expect(await expectJson<Receipt>(await sendStripeEvent(event), 200)).toEqual({ received: true, duplicate: false });
    expect(await balanceOf(owner.orgId)).toBe(1_000);
  });

  it("grant nothing for a session completed but not yet paid", async () => {
    const owner = await signUp("wh-pack-unpaid");
    const before = await balanceOf(owner.orgId);
    const { session } = await fakeStripe.completeCheckout(await startCheckout(owner, { credit_pack: "credits_1000" }));
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", { ...session, payment_status: "unpaid" })), 200);
    expect(await balanceOf(owner.orgId)).toBe(before);
  });
});

describe("Stripe webhooks: signatures", () => {
  async function unpaidPack(label: string) {
    const owner = await signUp(label);
    const before = await balanceOf(owner.orgId);
    const { session } = await fakeStripe.completeCheckout(await startCheckout(owner, { credit_pack: "credits_1000" }));
    return { owner, before, event: stripeEvent("checkout.session.completed", session) };
  }

  async function expectNothingChanged(orgId: string, before: number, eventId: string) {
    expect(await balanceOf(orgId)).toBe(before);
    expect((await ledgerOf(orgId)).filter((e) => e.kind === "purchase")).toEqual([]);
    expect(await eventRow(eventId)).toBeUndefined();
  }

  it("refuse a forged signature with 400 and change nothing", async () => {
    const { owner, before, event } = await unpaidPack("wh-forged");
    const now = Math.floor(Date.now() / 1000);
    const forged = await expectProblem(await sendStripeEvent(event, { signature: `t=${now},v1=${"ab".repeat(32)}` }), 400);
    expect(forged.detail).toContain("Stripe-Signature");
    await expectProblem(await sendStripeEvent(event, { secret: "whsec_not_ours" }), 400);
    await expectProblem(await sendStripeEvent(event, { signature: null }), 400);
    // A genuine signature over another body does not carry over to this one.
    const other = stripeEvent("checkout.session.completed", { id: "cs_test_other" });
    const signatureOfOther = await stripeSignature(JSON.stringify(other, null, 2));
    await expectProblem(await sendStripeEvent(event, { signature: signatureOfOther }), 400);
    await expectNothingChanged(owner.orgId, before, event.id);
  });

  it("refuse a stale timestamp (older than 300 s) with 400 and change nothing", async () => {
    const { owner, before, event } = await unpaidPack("wh-stale");
    const stale = await expectProblem(await sendStripeEvent(event, { timestamp: Math.floor(Date.now() / 1000) - 301 }), 400);
    expect(stale.detail).toContain("tolerance");
    await expectNothingChanged(owner.orgId, before, event.id);

    // Stripe's retry is signed afresh, and is applied.
    await expectJson(await sendStripeEvent(event), 200);
    expect(await balanceOf(owner.orgId)).toBe(before + 1_000);
  });

  it("record an unknown event type, answer 200 and change nothing else", async () => {
    const owner = await signUp("wh-unknown");
    const before = await balanceOf(owner.orgId);
    const event = stripeEvent("radar.early_fraud_warning.created", { id: "issfr_1", object: "radar.early_fraud_warning", charge: "ch_1" });
    expect(await expectJson<Receipt>(await sendStripeEvent(event), 200)).toEqual({ received: true, duplicate: false });
    expect(await expectJson<Receipt>(await sendStripeEvent(event), 200)).toEqual({ received: true, duplicate: true });
    expect(await eventRow(event.id)).toMatchObject({ type: "radar.early_fraud_warning.created", processedAt: expect.any(Date) });
    expect(await balanceOf(owner.orgId)).toBe(before);
  });
});

describe("Stripe webhooks: plans", () => {
  it("start the plan at checkout and grant its monthly credits once for the first invoice", async () => {
    const { owner, session, subscription, invoice } = await paidPlan("wh-plan");
    const before = await balanceOf(owner.orgId);

    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    const [started] = await subscriptionRows(owner.orgId);
    expect(started).toMatchObject({ stripeSubscriptionId: subscription.id, plan: "basic", status: "active" });

    // The first invoice's own event carries the same invoice: no second allowance.
    await expectJson(await sendStripeEvent(stripeEvent("invoice.paid", invoice)), 200);
    const grants = (await ledgerOf(owner.orgId)).filter((e) => e.referenceType === "stripe_invoice");
    expect(grants).toEqual([expect.objectContaining({ kind: "grant", amount: PLANS.basic.monthlyCredits, referenceId: invoice.id })]);
    expect(await balanceOf(owner.orgId)).toBe(before + PLANS.basic.monthlyCredits);
    const [row] = await subscriptionRows(owner.orgId);
    expect(row?.currentPeriodEnd?.getTime()).toBe(subscription.items.data[0]!.current_period_end * 1000);
  });

  it("lift the plan's limits once the subscription is active: the owner of a Basic organisation may own five", async () => {
    const { owner, session } = await paidPlan("wh-plan-limits");
    for (const name of ["Second", "Third"]) await expectJson(await call("/v1/orgs", { token: owner.access_token, body: { name } }), 201);
    await expectProblem(await call("/v1/orgs", { token: owner.access_token, body: { name: "Fourth" } }), 403);

    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    const plan = await expectJson<{ plan: { id: string }; subscription: { status: string } | null }>(
      await call("/v1/org/plan", { token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    expect(plan).toMatchObject({ plan: { id: "basic", limits: { organisations: 5, members: 20 } }, subscription: { status: "active" } });
    for (const name of ["Fourth", "Fifth"]) await expectJson(await call("/v1/orgs", { token: owner.access_token, body: { name } }), 201);
    await expectProblem(await call("/v1/orgs", { token: owner.access_token, body: { name: "Sixth" } }), 403);
  });

  it("renew the allowance when the next period's invoice is paid", async () => {
    const { owner, session, subscription } = await paidPlan("wh-renew", "pro");
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    const before = await balanceOf(owner.orgId);

    const renewal = await fakeStripe.renewSubscription(subscription.id, "paid");
    const event = stripeEvent("invoice.paid", renewal.invoice);
    await expectJson(await sendStripeEvent(event), 200);
    await expectJson(await sendStripeEvent(event), 200);

    expect(await balanceOf(owner.orgId)).toBe(before + PLANS.pro.monthlyCredits);
    const [row] = await subscriptionRows(owner.orgId);
    expect(row).toMatchObject({ plan: "pro", status: "active" });
    expect(row?.currentPeriodEnd?.getTime()).toBe(renewal.subscription.items.data[0]!.current_period_end * 1000);
  });

  it("start the plan even when the invoice arrives before the checkout event", async () => {
    const { owner, session, invoice } = await paidPlan("wh-out-of-order");
    const before = await balanceOf(owner.orgId);
    await expectJson(await sendStripeEvent(stripeEvent("invoice.paid", invoice)), 200);
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    expect(await subscriptionRows(owner.orgId)).toEqual([expect.objectContaining({ plan: "basic", status: "active", currentPeriodEnd: expect.any(Date) })]);
    expect(await balanceOf(owner.orgId)).toBe(before + PLANS.basic.monthlyCredits);
  });

  it("refuse a second plan checkout while one is live", async () => {
    const { owner, session } = await paidPlan("wh-second-plan");
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    const conflict = await expectProblem(await call("/v1/payments/checkout", { token: owner.access_token, body: { plan: "pro" } }), 409);
    expect(conflict.detail).toContain("billing portal");
    // Credit packs stay on sale.
    await startCheckout(owner, { credit_pack: "credits_1000" });
  });

  it("mark the subscription past due when a renewal fails, and email the owners once", async () => {
    const { owner, session, subscription } = await paidPlan("wh-failed");
    const admin = await joinOrgAs(owner, "admin", "wh-failed-admin");
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    const before = await balanceOf(owner.orgId);

    const renewal = await fakeStripe.renewSubscription(subscription.id, "failed");
    const event = stripeEvent("invoice.payment_failed", renewal.invoice);
    const receipts = await Promise.all([sendStripeEvent(event), sendStripeEvent(event)]);
    for (const receipt of receipts) await expectJson(receipt, 200);
    await expectJson(await sendStripeEvent(event), 200);

    expect(await subscriptionRows(owner.orgId)).toEqual([expect.objectContaining({ status: "past_due", plan: "basic" })]);
    expect(await balanceOf(owner.orgId)).toBe(before);

    const mail = await testCtx()
      .db.select()
      .from(messages)
      .where(and(eq(messages.orgId, owner.orgId), eq(messages.entityType, "stripe_invoice")));
    expect(mail).toEqual([expect.objectContaining({ channel: "email", recipient: owner.user.email, entityId: renewal.invoice.id })]);
    expect(mail[0]?.subject).toContain("Payment failed");
    expect(mail[0]?.body).toContain("$29.00");
    expect(mail[0]?.body).toContain("https://app.billx.test/billing");
    expect(mail.some((m) => m.recipient === admin.user.email)).toBe(false);

    // Paying later brings it back.
    const paid = stripeEvent("invoice.paid", { ...renewal.invoice, status: "paid", amount_paid: renewal.invoice.amount_due, amount_remaining: 0 });
    await expectJson(await sendStripeEvent(paid), 200);
    expect(await subscriptionRows(owner.orgId)).toEqual([expect.objectContaining({ status: "active" })]);
    expect(await balanceOf(owner.orgId)).toBe(before + PLANS.basic.monthlyCredits);
  });

  it("mark the subscription canceled when Stripe deletes it, and ignore an older update arriving late", async () => {
    const { owner, session, subscription } = await paidPlan("wh-canceled");
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    const updatedEarlier = stripeEvent("customer.subscription.updated", subscription, { created: Math.floor(Date.now() / 1000) - 60 });

    const { subscription: ended } = await fakeStripe.cancelSubscription(subscription.id);
    await expectJson(await sendStripeEvent(stripeEvent("customer.subscription.deleted", ended)), 200);
    expect(await subscriptionRows(owner.orgId)).toEqual([expect.objectContaining({ status: "canceled", plan: "basic" })]);

    await expectJson(await sendStripeEvent(updatedEarlier), 200);
    expect(await subscriptionRows(owner.orgId)).toEqual([expect.objectContaining({ status: "canceled" })]);

    // With the plan gone, a new one can be bought.
    await startCheckout(owner, { plan: "pro" });
  });

  it("follow a plan change made in the portal by its price", async () => {
    const { owner, session, subscription } = await paidPlan("wh-upgrade");
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", session)), 200);
    const item = subscription.items.data[0]!;
    // The portal swaps the price; the metadata Billx set at checkout still says "basic".
    const upgraded = { ...subscription, items: { ...subscription.items, data: [{ ...item, price: { ...item.price, id: "price_pro_test" } }] } };
    await expectJson(await sendStripeEvent(stripeEvent("customer.subscription.updated", upgraded)), 200);
    expect(await subscriptionRows(owner.orgId)).toEqual([expect.objectContaining({ plan: "pro", status: "active" })]);
  });
});

describe("Stripe webhook configuration", () => {
  it("answers 503 naming STRIPE_WEBHOOK_SECRET when it is not set", async () => {
    const response = await fetchWithEnv(
      new Request("http://api.test/v1/webhooks/stripe", { method: "POST", headers: { "Stripe-Signature": "t=1,v1=00" }, body: "{}" }),
      { STRIPE_WEBHOOK_SECRET: undefined },
    );
    const problem = await expectProblem(response, 503);
    expect(problem.detail).toContain("STRIPE_WEBHOOK_SECRET");
  });

  it("uses the secret vitest binds", () => {
    expect(loadConfig(testEnv).stripe.webhookSecret).toBe(STRIPE_TEST_WEBHOOK_SECRET);
  });
});
