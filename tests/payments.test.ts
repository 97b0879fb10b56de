import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, stripeCustomers } from "../src/db/schema";
import { stripeError } from "./fakes/stripe";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { fakeStripe } from "./harness/fakes";
import { expectProblem, fetchWithEnv, testCtx } from "./harness/helpers";

interface CheckoutReply {
  url: string;
  session_id: string;
}

function checkout(person: SignedUp, body: unknown) {
  return call("/v1/payments/checkout", { token: person.access_token, body });
}

async function customerRows(orgId: string) {
  return testCtx().db.select().from(stripeCustomers).where(eq(stripeCustomers.orgId, orgId));
}

const sessionCalls = async (orgId: string) => (await fakeStripe.requests(orgId)).filter((r) => r.path === "/v1/checkout/sessions");
const customerCalls = async (orgId: string) => (await fakeStripe.requests(orgId)).filter((r) => r.path === "/v1/customers");

describe("Stripe Checkout", () => {
  it("starts a monthly subscription for a plan, for the organisation's own Stripe customer", async () => {
    const owner = await signUp("pay-plan");
    const reply = await expectJson<CheckoutReply>(await checkout(owner, { plan: "basic" }), 201);
    expect(reply).toEqual({
      url: expect.stringMatching(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/),
      session_id: expect.stringMatching(/^cs_test_/),
    });
    expect(reply.url).toContain(reply.session_id);

    const [customer] = await fakeStripe.customers(owner.orgId);
    expect(customer).toMatchObject({ object: "customer", metadata: { org_id: owner.orgId }, name: expect.any(String) });
    const [sessionCall] = await sessionCalls(owner.orgId);
    expect(sessionCall?.headers.authorization).toBe("Bearer sk_test_fake");
    expect(sessionCall?.headers["content-type"]).toContain("application/x-www-form-urlencoded");
    expect(sessionCall?.body).toEqual({
      mode: "subscription",
      customer: customer?.id,
      client_reference_id: owner.orgId,
      line_items: [{ price: "price_basic_test", quantity: "1" }],
      metadata: { org_id: owner.orgId, kind: "plan", plan: "basic" },
      subscription_data: { metadata: { org_id: owner.orgId, kind: "plan", plan: "basic" } },
      success_url: "https://app.billx.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
      cancel_url: "https://app.billx.test/billing/cancel",
    });
    expect(await customerRows(owner.orgId)).toEqual([expect.objectContaining({ customerId: customer?.id })]);

    const audit = await testCtx().db.select().from(auditEvents).where(eq(auditEvents.orgId, owner.orgId));
    expect(audit.filter((a) => a.action === "billing.checkout_started")).toEqual([
      expect.objectContaining({ targetId: reply.session_id, actorUserId: owner.user.id, metadata: { plan: "basic" } }),
    ]);
  });

  it("sells a credit pack as a one-off payment, reusing the customer of an earlier checkout", async () => {
    const owner = await signUp("pay-pack");
    await expectJson<CheckoutReply>(await checkout(owner, { plan: "pro" }), 201);
    const reply = await expectJson<CheckoutReply>(await checkout(owner, { credit_pack: "credits_10000" }), 201);
    expect(reply.session_id).toMatch(/^cs_test_/);

    const [customer, ...others] = await fakeStripe.customers(owner.orgId);
    expect(others).toEqual([]);
    const calls = await sessionCalls(owner.orgId);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.body).toMatchObject({
      mode: "payment",
      customer: customer?.id,
      client_reference_id: owner.orgId,
      line_items: [{ price: "price_credits_10000_test", quantity: "1" }],
      metadata: { org_id: owner.orgId, kind: "credit_pack", credit_pack: "credits_10000" },
      payment_intent_data: { metadata: { org_id: owner.orgId, kind: "credit_pack", credit_pack: "credits_10000" } },
    });
    expect(calls[1]?.body).not.toHaveProperty("subscription_data");
    expect(await customerCalls(owner.orgId)).toHaveLength(1);
  });

  it("creates one Stripe customer when two first checkouts race", async () => {
    const owner = await signUp("pay-race");
    const replies = await Promise.all([checkout(owner, { credit_pack: "credits_1000" }), checkout(owner, { plan: "basic" })]);
    const bodies = await Promise.all(replies.map((r) => expectJson<CheckoutReply>(r, 201)));
    expect(new Set(bodies.map((b) => b.session_id)).size).toBe(2);

    const customers = await fakeStripe.customers(owner.orgId);
    expect(customers).toHaveLength(1);
    const rows = await customerRows(owner.orgId);
    expect(rows).toEqual([expect.objectContaining({ customerId: customers[0]?.id })]);
    // Both creations carried the key derived from the organisation, so Stripe answered one customer.
    const creations = await customerCalls(owner.orgId);
    expect(creations.map((c) => c.headers["idempotency-key"])).toEqual(creations.map(() => `billx-customer-${owner.orgId}`));
    expect((await sessionCalls(owner.orgId)).map((c) => (c.body as { customer: string }).customer)).toEqual([customers[0]?.id, customers[0]?.id]);
  });

  it("needs exactly one known plan or credit pack", async () => {
    const owner = await signUp("pay-invalid");
    for (const body of [{}, { plan: "basic", credit_pack: "credits_1000" }, { plan: "free" }, { plan: "enterprise" }, { credit_pack: "credits_7" }]) {
      const problem = await expectProblem(await checkout(owner, body), 422);
      expect(problem.errors?.length).toBeGreaterThan(0);
    }
    expect(await fakeStripe.requests(owner.orgId)).toEqual([]);
  });

  it("answers 503 naming the variable when Stripe or a price is not configured", async () => {
    const owner = await signUp("pay-unconfigured");
    const request = (body: unknown) =>
      new Request("http://api.test/v1/payments/checkout", {
        method: "POST",
        headers: { Authorization: `Bearer ${owner.access_token}`, "Content-Type": "application/json", "CF-Connecting-IP": "fd00:aa::1" },
        body: JSON.stringify(body),
      });

    const noPrice = await expectProblem(await fetchWithEnv(request({ plan: "pro" }), { STRIPE_PRICE_PRO: undefined }), 503);
    expect(noPrice.detail).toContain("STRIPE_PRICE_PRO");
    const unsoldPack = await expectProblem(await checkout(owner, { credit_pack: "credits_100000" }), 503);
    expect(unsoldPack.detail).toContain("STRIPE_PRICE_CREDITS_100000");
    const noKey = await expectProblem(await fetchWithEnv(request({ plan: "basic" }), { STRIPE_SECRET_KEY: undefined }), 503);
    expect(noKey.detail).toContain("STRIPE_SECRET_KEY");

    expect(await fakeStripe.requests(owner.orgId)).toEqual([]);
    expect(await customerRows(owner.orgId)).toEqual([]);
  });

  it("reports what Stripe refused as a 502 and remembers no customer", async () => {
    const owner = await signUp("pay-refused");
    await fakeStripe.fail(owner.orgId, [{ status: 400, body: stripeError("invalid_request_error", "Invalid email address: nope", { param: "email" }) }]);
    const problem = await expectProblem(await checkout(owner, { plan: "basic" }), 502);
    expect(problem.detail).toContain("Invalid email address");
    expect(await customerRows(owner.orgId)).toEqual([]);

    await expectJson<CheckoutReply>(await checkout(owner, { plan: "basic" }), 201);
    expect(await customerRows(owner.orgId)).toHaveLength(1);
  });

  it("is refused to a viewer, who holds no billing:write", async () => {
    const owner = await signUp("pay-owner");
    const viewer = await joinOrgAs(owner, "viewer", "pay-viewer");
    await expectProblem(await call("/v1/payments/checkout", { token: viewer.access_token, orgId: owner.orgId, body: { plan: "basic" } }), 403);
    await expectProblem(await call("/v1/payments/portal", { token: viewer.access_token, orgId: owner.orgId, method: "POST" }), 403);
    expect(await fakeStripe.requests(owner.orgId)).toEqual([]);
  });

  it("needs a signed-in caller", async () => {
    await expectProblem(await call("/v1/payments/checkout", { body: { plan: "basic" } }), 401);
  });
});

describe("the Stripe billing portal", () => {
  it("is 404 before the organisation's first purchase, then opens for its customer", async () => {
    const owner = await signUp("portal");
    const before = await expectProblem(await call("/v1/payments/portal", { token: owner.access_token, method: "POST" }), 404);
    expect(before.detail).toContain("no Stripe customer");

    await expectJson<CheckoutReply>(await checkout(owner, { credit_pack: "credits_1000" }), 201);
    const portal = await expectJson<{ url: string }>(await call("/v1/payments/portal", { token: owner.access_token, method: "POST" }), 200);
    expect(portal.url).toMatch(/^https:\/\/billing\.stripe\.com\/p\/session\/test_/);

    const [customer] = await fakeStripe.customers(owner.orgId);
    const portalCalls = (await fakeStripe.requests(owner.orgId)).filter((r) => r.path === "/v1/billing_portal/sessions");
    expect(portalCalls.map((r) => r.body)).toEqual([{ customer: customer?.id, return_url: "https://app.billx.test/billing" }]);
  });
});
