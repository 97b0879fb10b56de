import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, invoiceLines, invoices, messages } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { fakeStripe, sendStripeEvent, stripeEvent } from "./harness/fakes";
import { expectProblem, testCtx } from "./harness/helpers";
import {
  createCustomer,
  createInvoice,
  createModel,
  getInvoice,
  type Invoice,
  insertAgent,
  insertEvents,
  invoiceAction,
  postInvoice,
  putPlan,
} from "./harness/usage-invoices";

/** A model with one component of each kind, a base fee and 10% tax. */
const MIXED_MODEL = {
  base_fee: 5000,
  tax_rate_bps: 1000,
  components: [
    { type: "seat", unit_amount: 2000 },
    {
      type: "activity",
      activity_type: "message_sent",
      free_units: 100,
      tier_mode: "graduated",
      tiers: [
        { up_to: 1000, unit_amount: 2 },
        { up_to: null, unit_amount: 1 },
      ],
    },
    { type: "outcome", outcome_type: "meeting_booked", unit_amount: 500, percent_bps: 250 },
    { type: "cost_plus", markup_bps: 2000, cost_type: "llm" },
  ],
};

/** The one component of models that only need a base fee: nothing records this type, so it adds a zero line. */
const UNUSED = [{ type: "activity", activity_type: "unused", unit_amount: 1 }];

/** An organisation whose customer is on MIXED_MODEL, with nothing recorded yet. */
async function mixedSetup(label: string) {
  const owner = await signUp(label);
  const customerId = await createCustomer(owner, "Acme <Robotics> & Co");
  const modelId = await createModel(owner, MIXED_MODEL);
  await putPlan(owner, customerId, modelId);
  return { owner, customerId, modelId };
}

async function finalized(owner: SignedUp, body: Record<string, unknown>): Promise<Invoice> {
  const draft = await createInvoice(owner, body);
  return expectJson<Invoice>(await invoiceAction(owner, draft.id, "finalize"), 200);
}

/** The receipts queued for an invoice's payment (an invoice is paid once, so it is the payment). */
const receiptsOf = (invoiceId: string) =>
  testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "invoice_payment"), eq(messages.entityId, invoiceId)));

const auditOf = (invoiceId: string, action: string) =>
  testCtx()
    .db.select()
    .from(auditEvents)
    .where(and(eq(auditEvents.targetId, invoiceId), eq(auditEvents.action, action)));

describe("creating a usage invoice", () => {
  it("prices the customer's usage in the period with the model, line by line", async () => {
    const { owner, customerId, modelId } = await mixedSetup("ivc-price");
    const other = await createCustomer(owner, "Someone Else");
    const [first, second] = [await insertAgent(owner.orgId, customerId), await insertAgent(owner.orgId, customerId)];
    await insertAgent(owner.orgId, customerId, "paused");
    const othersAgent = await insertAgent(owner.orgId, other);
    await insertEvents(owner.orgId, first, [
      { kind: "activity", type: "message_sent", quantity: "700", at: "2026-05-01T00:00:00Z" },
      { kind: "activity", type: "message_sent", quantity: "500.5", at: "2026-05-31T23:59:59.999Z" },
      // Outside [May 1, June 1): not on May's invoice.
      { kind: "activity", type: "message_sent", quantity: "9999", at: "2026-04-30T23:59:59.999Z" },
      { kind: "activity", type: "message_sent", quantity: "9999", at: "2026-06-01T00:00:00Z" },
      { kind: "outcome", type: "meeting_booked", success: true, value: 10000, currency: "USD", at: "2026-05-02T10:00:00Z" },
      { kind: "outcome", type: "meeting_booked", success: true, value: 20000, at: "2026-05-03T10:00:00Z" },
      { kind: "outcome", type: "meeting_booked", success: false, value: 99999, currency: "USD", at: "2026-05-04T10:00:00Z" },
      { kind: "cost", type: "llm", amount: 1234, currency: "USD", at: "2026-05-05T10:00:00Z" },
      { kind: "cost", type: "llm", amount: 100, currency: "EUR", at: "2026-05-05T10:00:00Z" },
      { kind: "cost", type: "storage", amount: 500, currency: "USD", at: "2026-05-05T10:00:00Z" },
    ]);
    await insertEvents(owner.orgId, second, [
      { kind: "outcome", type: "meeting_booked", success: true, value: 5000, currency: "USD", at: "2026-05-10T10:00:00Z" },
      // Counted as an outcome; its EUR value is not the model's currency, so no percentage of it.
      { kind: "outcome", type: "meeting_booked", success: true, value: 7777, currency: "EUR", at: "2026-05-11T10:00:00Z" },
      { kind: "cost", type: "llm", amount: 66, at: "2026-05-12T10:00:00Z" },
    ]);
    await insertEvents(owner.orgId, othersAgent, [{ kind: "activity", type: "message_sent", quantity: "1000", at: "2026-05-15T10:00:00Z" }]);

    const invoice = await createInvoice(owner, { customer_id: customerId, period: "2026-05" });

    // By hand: 2 active agents; 1200.5 messages − 100 free = 1100.5 billable: 1000 × 2 + 100.5 × 1 = 100.5 → 101;
    // 4 successful meetings × 500; 2.5% of 10000 + 20000 + 5000 = 875; (1234 + 66) × 1.2 = 1560.
    expect(invoice.lines.map(({ component, quantity, unit_amount, amount }) => ({ component, quantity, unit_amount, amount }))).toEqual([
      { component: "base_fee", quantity: "1.000", unit_amount: 5000, amount: 5000 },
      { component: "seat", quantity: "2.000", unit_amount: 2000, amount: 4000 },
      { component: "activity", quantity: "1000.000", unit_amount: 2, amount: 2000 },
      { component: "activity", quantity: "100.500", unit_amount: 1, amount: 101 },
      { component: "outcome", quantity: "4.000", unit_amount: 500, amount: 2000 },
      { component: "outcome", quantity: "35000.000", unit_amount: null, amount: 875 },
      { component: "cost_plus", quantity: "1300.000", unit_amount: null, amount: 1560 },
    ]);
    expect(invoice).toMatchObject({
      status: "draft",
      number: null,
      customer_id: customerId,
      model_id: modelId,
      model_version: 1,
      period_start: "2026-05-01",
      period_end: "2026-06-01",
      currency: "USD",
      subtotal: 15536,
      tax_rate_bps: 1000,
      // 1553.6 rounds half up.
      tax: 1554,
      total: 17090,
      amount_paid: 0,
      amount_due: 17090,
    });
    expect(invoice.lines.map((line) => line.position)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await getInvoice(owner, invoice.id)).toEqual(invoice);
    const rows = await testCtx().db.select().from(invoiceLines).where(eq(invoiceLines.invoiceId, invoice.id));
    expect(rows.reduce((sum, row) => sum + row.amount, 0)).toBe(15536);
  });

  it("prices explicit days with `to` exclusive, and uses the model given over the plan's", async () => {
    const { owner, customerId } = await mixedSetup("ivc-days");
    const flat = await createModel(owner, { components: [{ type: "activity", activity_type: "call", unit_amount: 10 }] });
    const agent = await insertAgent(owner.orgId, customerId);
    await insertEvents(owner.orgId, agent, [
      { kind: "activity", type: "call", quantity: "3", at: "2026-03-10T12:00:00Z" },
      { kind: "activity", type: "call", quantity: "4", at: "2026-03-14T23:59:59Z" },
      { kind: "activity", type: "call", quantity: "50", at: "2026-03-15T00:00:00Z" },
    ]);
    const invoice = await createInvoice(owner, { customer_id: customerId, model_id: flat, period: { from: "2026-03-10", to: "2026-03-15" } });
    expect(invoice).toMatchObject({ model_id: flat, period_start: "2026-03-10", period_end: "2026-03-15", subtotal: 70, tax: 0, total: 70 });
  });

  it("keeps its lines and model version when the model is edited afterwards", async () => {
    const { owner, customerId, modelId } = await mixedSetup("ivc-version");
    const agent = await insertAgent(owner.orgId, customerId);
    await insertEvents(owner.orgId, agent, [{ kind: "activity", type: "message_sent", quantity: "300", at: "2026-04-03T00:00:00Z" }]);
    const before = await createInvoice(owner, { customer_id: customerId, period: "2026-04" });
    const open = await finalized(owner, { customer_id: customerId, period: "2026-03" });

    const edit = await call(`/v1/billing-models/${modelId}`, {
      method: "PATCH",
      token: owner.access_token,
      orgId: owner.orgId,
      body: { base_fee: 99_000, tax_rate_bps: 2000, components: [{ type: "seat", unit_amount: 7777 }] },
    });
    expect((await expectJson<{ version: number }>(edit, 200)).version).toBe(2);

    expect(await getInvoice(owner, before.id)).toEqual(before);
    expect(await getInvoice(owner, open.id)).toEqual(open);
    // Finalizing the draft later still keeps what it was priced at.
    const finalizedLater = await expectJson<Invoice>(await invoiceAction(owner, before.id, "finalize"), 200);
    expect(finalizedLater).toMatchObject({ model_version: 1, subtotal: before.subtotal, total: before.total, lines: before.lines });
    // A new invoice is priced with the current version.
    const after = await createInvoice(owner, { customer_id: customerId, period: "2026-05" });
    expect(after).toMatchObject({ model_version: 2, subtotal: 99_000 + 7777, tax_rate_bps: 2000 });
  });

  it("refuses a second live invoice for the same customer, model and period, until the first is void", async () => {
    const { owner, customerId } = await mixedSetup("ivc-dup");
    const first = await createInvoice(owner, { customer_id: customerId, period: "2026-02" });
    const again = await expectProblem(await postInvoice(owner, { customer_id: customerId, period: "2026-02" }), 409);
    expect(again.detail).toContain(first.id);
    // Overlapping days are the same usage billed twice.
    await expectProblem(await postInvoice(owner, { customer_id: customerId, period: { from: "2026-02-20", to: "2026-03-05" } }), 409);
    // Adjacent days are not.
    await createInvoice(owner, { customer_id: customerId, period: { from: "2026-03-01", to: "2026-03-05" } });

    await expectJson(await invoiceAction(owner, first.id, "cancel"), 200);
    const replacement = await createInvoice(owner, { customer_id: customerId, period: "2026-02" });
    expect(replacement.id).not.toBe(first.id);
    const live = await testCtx()
      .db.select()
      .from(invoices)
      .where(and(eq(invoices.customerId, customerId), eq(invoices.periodStart, "2026-02-01")));
    expect(live.map((row) => row.status).sort()).toEqual(["draft", "void"]);
  });

  it("lets only one of ten concurrent creations for one period through", async () => {
    const { owner, customerId } = await mixedSetup("ivc-race");
    const replies = await Promise.all(Array.from({ length: 10 }, () => postInvoice(owner, { customer_id: customerId, period: "2026-01" })));
    expect(replies.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(409)]);
    const rows = await testCtx().db.select().from(invoices).where(eq(invoices.customerId, customerId));
    expect(rows).toHaveLength(1);
  });

  it("answers 422 for an unknown customer or model, a customer without a plan, and a bad period", async () => {
    const { owner, customerId } = await mixedSetup("ivc-422");
    const planless = await createCustomer(owner, "No Plan Ltd");
    const cases: [Record<string, unknown>, string][] = [
      [{ customer_id: "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKC", period: "2026-05" }, "customer_id"],
      [{ customer_id: customerId, model_id: "bmd_01JD3X6W6X8Q3M1B0V4T2Y9ZKD", period: "2026-05" }, "model_id"],
      [{ customer_id: planless, period: "2026-05" }, "model_id"],
      [{ customer_id: customerId, period: "2026-13" }, "period"],
      [{ customer_id: customerId, period: { from: "2026-05-10", to: "2026-05-10" } }, "period.to"],
      [{ customer_id: customerId, period: { from: "2024-01-01", to: "2026-01-01" } }, "period.to"],
    ];
    for (const [body, path] of cases) {
      const problem = await expectProblem(await postInvoice(owner, body), 422);
      expect(problem.errors?.map((e) => e.path).join(","), JSON.stringify(body)).toContain(path);
    }
    expect(await testCtx().db.select().from(invoices).where(eq(invoices.orgId, owner.orgId))).toEqual([]);
  });
});

describe("listing invoices", () => {
  it("pages newest first and filters by status, customer and number", async () => {
    const { owner, customerId } = await mixedSetup("ivc-list");
    const second = await createCustomer(owner, "Second");
    const model = await createModel(owner, { components: UNUSED });
    const a = await finalized(owner, { customer_id: customerId, period: "2026-01" });
    const b = await createInvoice(owner, { customer_id: second, model_id: model, period: "2026-01" });
    const c = await finalized(owner, { customer_id: second, model_id: model, period: "2026-02" });
    const list = (query: string) =>
      call(`/v1/invoices${query}`, { token: owner.access_token }).then((r) => expectJson<{ data: Invoice[]; next_cursor: string | null }>(r, 200));

    const page1 = await list("?limit=2");
    expect(page1.data.map((i) => i.id)).toEqual([c.id, b.id]);
    expect(page1.data[0]).not.toHaveProperty("lines");
    const page2 = await list(`?limit=2&cursor=${page1.next_cursor}`);
    expect(page2).toEqual({ data: [expect.objectContaining({ id: a.id })], next_cursor: null });
    expect((await list("?status=draft")).data.map((i) => i.id)).toEqual([b.id]);
    expect((await list(`?customer_id=${second}`)).data.map((i) => i.id)).toEqual([c.id, b.id]);
    expect((await list(`?q=${c.number}`)).data.map((i) => i.id)).toEqual([c.id]);
    expect((await list("?q=%25")).data).toEqual([]);
  });
});

describe("finalizing", () => {
  it("numbers 20 concurrent finalizes INV-000001 to INV-000020 with no gap or repeat", async () => {
    const owner = await signUp("ivc-numbers");
    const customerId = await createCustomer(owner);
    const model = await createModel(owner, { base_fee: 100, components: UNUSED });
    const drafts: Invoice[] = [];
    for (let day = 1; day <= 20; day++) {
      const from = `2026-07-${String(day).padStart(2, "0")}`;
      const to = `2026-07-${String(day + 1).padStart(2, "0")}`;
      drafts.push(await createInvoice(owner, { customer_id: customerId, model_id: model, period: { from, to } }));
    }
    const replies = await Promise.all(drafts.map((draft) => invoiceAction(owner, draft.id, "finalize")));
    const opened = await Promise.all(replies.map((reply) => expectJson<Invoice>(reply, 200)));
    expect(opened.every((invoice) => invoice.status === "open" && invoice.issued_at !== null)).toBe(true);
    expect(opened.map((invoice) => invoice.number).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `INV-${String(i + 1).padStart(6, "0")}`));
  });

  it("finalizes a draft once when asked twice at the same time, and never an open invoice again", async () => {
    const { owner, customerId } = await mixedSetup("ivc-final-twice");
    const draft = await createInvoice(owner, { customer_id: customerId, period: "2026-05" });
    const replies = await Promise.all([invoiceAction(owner, draft.id, "finalize"), invoiceAction(owner, draft.id, "finalize")]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 409]);
    await expectProblem(await invoiceAction(owner, draft.id, "finalize"), 409);
    expect((await getInvoice(owner, draft.id)).number).toBe("INV-000001");
    // The next invoice gets the next number: the refused attempts used none.
    const next = await finalized(owner, { customer_id: customerId, period: "2026-06" });
    expect(next.number).toBe("INV-000002");
  });
});

describe("cancelling and paying", () => {
  it("cancels drafts and open invoices, never a paid one", async () => {
    const { owner, customerId } = await mixedSetup("ivc-cancel");
    const draft = await createInvoice(owner, { customer_id: customerId, period: "2026-01" });
    const open = await finalized(owner, { customer_id: customerId, period: "2026-02" });
    const paid = await finalized(owner, { customer_id: customerId, period: "2026-03" });
    await expectJson(await invoiceAction(owner, paid.id, "pay", { method: "cash" }), 200);

    expect(await expectJson<Invoice>(await invoiceAction(owner, draft.id, "cancel"), 200)).toMatchObject({ status: "void", amount_due: 0 });
    const voided = await expectJson<Invoice>(await invoiceAction(owner, open.id, "cancel"), 200);
    expect(voided).toMatchObject({ status: "void", number: open.number, voided_at: expect.any(String) });
    await expectProblem(await invoiceAction(owner, open.id, "cancel"), 409);
    await expectProblem(await invoiceAction(owner, paid.id, "cancel"), 409);
    expect((await getInvoice(owner, paid.id)).status).toBe("paid");
    // A void invoice can be neither finalized nor paid.
    await expectProblem(await invoiceAction(owner, draft.id, "finalize"), 409);
    await expectProblem(await invoiceAction(owner, open.id, "pay", { method: "cash" }), 409);
  });

  it("records a manual payment once; a repeat with the same Idempotency-Key gets the paid invoice back", async () => {
    const { owner, customerId } = await mixedSetup("ivc-pay");
    const draft = await createInvoice(owner, { customer_id: customerId, period: "2026-04" });
    await expectProblem(await invoiceAction(owner, draft.id, "pay", { method: "bank" }), 409);
    await expectJson(await invoiceAction(owner, draft.id, "finalize"), 200);

    const key = { "Idempotency-Key": "pay-april-1" };
    const replies = await Promise.all(Array.from({ length: 5 }, () => invoiceAction(owner, draft.id, "pay", { method: "bank", reference: "NEFT-42" }, key)));
    const bodies = await Promise.all(replies.map((reply) => expectJson<Invoice>(reply, 200)));
    expect(bodies[0]).toMatchObject({ status: "paid", amount_paid: draft.total, amount_due: 0, payment_method: "bank", payment_reference: "NEFT-42" });
    expect(new Set(bodies.map((body) => body.paid_at)).size).toBe(1);
    expect(await auditOf(draft.id, "invoice.paid")).toHaveLength(1);

    await expectProblem(await invoiceAction(owner, draft.id, "pay", { method: "cash" }), 409);
    await expectProblem(await invoiceAction(owner, draft.id, "pay", { method: "cash" }, { "Idempotency-Key": "another" }), 409);
    expect(await getInvoice(owner, draft.id)).toMatchObject({ payment_method: "bank", paid_at: bodies[0]?.paid_at });
  });

  it("sends the customer one receipt for a manual payment, nothing more for its retries, and none when receipts are off", async () => {
    const owner = await signUp("ivc-receipt");
    const customerId = await createCustomer(owner, "Receipt Customer", { email: "ap@receipt.example" });
    const model = await createModel(owner, { base_fee: 10_000, components: UNUSED });
    const open = await finalized(owner, { customer_id: customerId, model_id: model, period: "2026-04" });
    const key = { "Idempotency-Key": "pay-receipt-1" };
    const replies = await Promise.all([1, 2, 3].map(() => invoiceAction(owner, open.id, "pay", { method: "bank" }, key)));
    for (const reply of replies) await expectJson(reply, 200);
    await expectJson(await invoiceAction(owner, open.id, "pay", { method: "bank" }, key), 200);

    const receipts = await receiptsOf(open.id);
    expect(receipts).toMatchObject([{ orgId: owner.orgId, channel: "email", recipient: "ap@receipt.example", idempotencyKey: `payment-receipt:${open.id}` }]);
    expect(receipts[0]?.subject).toBe(`Payment received for ${open.number} from Test ivc-receipt's organisation`);
    expect(receipts[0]?.body).toBe(`Test ivc-receipt's organisation: thank you, we received $100.00 for invoice ${open.number}. The invoice is paid in full.`);

    const settings = { method: "PATCH", token: owner.access_token, body: { messages: { payment_receipts: false } } };
    await expectJson(await call("/v1/org/settings", settings), 200);
    const quiet = await finalized(owner, { customer_id: customerId, model_id: model, period: "2026-05" });
    await expectJson(await invoiceAction(owner, quiet.id, "pay", { method: "cash" }), 200);
    expect(await receiptsOf(quiet.id)).toEqual([]);
  });

  it("pays once among concurrent payments with different keys", async () => {
    const { owner, customerId } = await mixedSetup("ivc-pay-race");
    const open = await finalized(owner, { customer_id: customerId, period: "2026-04" });
    const replies = await Promise.all(
      ["cash", "card", "upi", "other", "bank"].map((method, i) => invoiceAction(owner, open.id, "pay", { method }, { "Idempotency-Key": `k-${i}` })),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    expect(await auditOf(open.id, "invoice.paid")).toHaveLength(1);
  });

  it("refuses unknown methods and a reference on a Stripe payment", async () => {
    const { owner, customerId } = await mixedSetup("ivc-pay-422");
    const open = await finalized(owner, { customer_id: customerId, period: "2026-04" });
    await expectProblem(await invoiceAction(owner, open.id, "pay", { method: "cheque" }), 422);
    await expectProblem(await invoiceAction(owner, open.id, "pay", { method: "stripe", reference: "x" }), 422);
    expect((await getInvoice(owner, open.id)).status).toBe("open");
  });
});

describe("paying through Stripe Checkout", () => {
  /** What Stripe answers for a Checkout Session; the fake Stripe has no ad-hoc prices (`price_data`), so the test scripts the reply. */
  function checkoutSession(orgId: string, invoice: Invoice) {
    const id = `cs_test_${crypto.randomUUID().replaceAll("-", "")}`;
    return {
      id,
      object: "checkout.session",
      url: `https://checkout.stripe.com/c/pay/${id}`,
      mode: "payment",
      status: "open",
      payment_status: "unpaid",
      customer: null,
      client_reference_id: orgId,
      metadata: { org_id: orgId, kind: "invoice", invoice_id: invoice.id, invoice_number: invoice.number ?? invoice.id },
      amount_subtotal: invoice.total,
      amount_total: invoice.total,
      currency: "usd",
      payment_intent: null,
      created: Math.floor(Date.now() / 1000),
      expires_at: Math.floor(Date.now() / 1000) + 86_400,
      livemode: false,
    };
  }

  it("creates a Checkout link for the amount due, and the webhook marks the invoice paid exactly once", async () => {
    const owner = await signUp("ivc-stripe");
    const customerId = await createCustomer(owner, "Paying Customer", { email: "ap@paying.example" });
    const model = await createModel(owner, { base_fee: 12_345, tax_rate_bps: 1800, components: UNUSED });
    const open = await finalized(owner, { customer_id: customerId, model_id: model, period: "2026-05" });
    const linked = await expectJson<Invoice>(await invoiceAction(owner, open.id, "pay", { method: "stripe" }, { "Idempotency-Key": "link-1" }), 200);
    expect(linked).toMatchObject({ status: "open", payment_url: expect.stringMatching(/^https:\/\/checkout\.stripe\.com\//), amount_paid: 0 });
    const [request] = await fakeStripe.requests(owner.orgId);
    expect(request?.path).toBe("/v1/checkout/sessions");
    expect(request?.headers["idempotency-key"]).toBe(`billx-invoice-${open.id}-link-1`);
    expect(request?.body).toMatchObject({
      mode: "payment",
      client_reference_id: owner.orgId,
      customer_email: "ap@paying.example",
      line_items: [{ quantity: "1", price_data: { currency: "usd", unit_amount: String(open.total), product_data: { name: `Invoice ${open.number}` } } }],
      metadata: { kind: "invoice", invoice_id: open.id, org_id: owner.orgId },
    });
    const [row] = await testCtx().db.select().from(invoices).where(eq(invoices.id, open.id));
    expect(row?.stripeCheckoutSessionId).toMatch(/^cs_test_/);
    expect(linked.payment_url).toContain(row?.stripeCheckoutSessionId);
    const session = { ...checkoutSession(owner.orgId, open), id: row?.stripeCheckoutSessionId as string };

    const completed = { ...session, status: "complete", payment_status: "paid", url: null, payment_intent: "pi_test_123" };
    const event = stripeEvent("checkout.session.completed", completed);
    expect(await expectJson(await sendStripeEvent(event), 200)).toEqual({ received: true, duplicate: false });
    const paid = await getInvoice(owner, open.id);
    expect(paid).toMatchObject({ status: "paid", amount_paid: open.total, amount_due: 0, payment_method: "stripe", payment_reference: "pi_test_123" });
    // The same event again, and another event for the same payment, change nothing.
    expect(await expectJson(await sendStripeEvent(event), 200)).toEqual({ received: true, duplicate: true });
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.async_payment_succeeded", completed)), 200);
    expect(await getInvoice(owner, open.id)).toEqual(paid);
    expect(await auditOf(open.id, "invoice.paid")).toHaveLength(1);
    // One receipt for the one payment, however many events Stripe sent about it.
    const receipts = await receiptsOf(open.id);
    expect(receipts).toMatchObject([{ channel: "email", recipient: "ap@paying.example" }]);
    expect(receipts[0]?.body).toContain(`we received $${(open.total / 100).toFixed(2)} for invoice ${open.number}. The invoice is paid in full.`);
    await expectProblem(await invoiceAction(owner, open.id, "pay", { method: "stripe" }), 409);
  });

  it("does not mark a void invoice paid, and wants an open invoice for a link", async () => {
    const owner = await signUp("ivc-stripe-void");
    const customerId = await createCustomer(owner);
    const model = await createModel(owner, { base_fee: 500, components: UNUSED });
    const draft = await createInvoice(owner, { customer_id: customerId, model_id: model, period: "2026-05" });
    await expectProblem(await invoiceAction(owner, draft.id, "pay", { method: "stripe" }), 409);
    const open = await expectJson<Invoice>(await invoiceAction(owner, draft.id, "finalize"), 200);
    await expectJson(await invoiceAction(owner, open.id, "cancel"), 200);
    const completed = { ...checkoutSession(owner.orgId, open), status: "complete", payment_status: "paid" };
    await expectJson(await sendStripeEvent(stripeEvent("checkout.session.completed", completed)), 200);
    expect((await getInvoice(owner, open.id)).status).toBe("void");
    expect(await fakeStripe.requests(owner.orgId)).toEqual([]);
  });

  it("answers 502 when Stripe refuses, leaving the invoice as it was", async () => {
    const owner = await signUp("ivc-stripe-502");
    const customerId = await createCustomer(owner);
    // 30 cents is under Stripe's minimum charge, which the fake enforces as Stripe does.
    const model = await createModel(owner, { base_fee: 30, components: UNUSED });
    const open = await finalized(owner, { customer_id: customerId, model_id: model, period: "2026-05" });
    const problem = await expectProblem(await invoiceAction(owner, open.id, "pay", { method: "stripe" }), 502);
    expect(problem.detail).toContain("at least $0.50");
    expect(await getInvoice(owner, open.id)).toEqual(open);
  });
});

describe("the invoice document", () => {
  it("renders HTML with escaped names and a PDF", async () => {
    const { owner, customerId } = await mixedSetup("ivc-doc");
    const open = await finalized(owner, { customer_id: customerId, period: "2026-05" });
    const html = await call(`/v1/invoices/${open.id}/document`, { token: owner.access_token });
    expect(html.status).toBe(200);
    expect(html.headers.get("content-type")).toContain("text/html");
    expect(html.headers.get("cache-control")).toBe("private, no-store");
    expect(html.headers.get("content-security-policy")).toContain("default-src 'none'");
    const page = await html.text();
    expect(page).toContain(open.number);
    expect(page).toContain("<dt>Invoice</dt>");
    expect(page).toContain("Acme &lt;Robotics&gt; &amp; Co");
    expect(page).not.toContain("<Robotics>");
    expect(page).toContain("Usage from 2026-05-01 to 2026-06-01");

    const pdf = await call(`/v1/invoices/${open.id}/document?format=pdf`, { token: owner.access_token });
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get("content-type")).toBe("application/pdf");
    expect(pdf.headers.get("content-disposition")).toContain(`${open.number}.pdf`);
    expect(new TextDecoder().decode((await pdf.arrayBuffer()).slice(0, 5))).toBe("%PDF-");
    await expectProblem(await call(`/v1/invoices/${open.id}/document?format=docx`, { token: owner.access_token }), 422);
  });
});

describe("who may see and change invoices", () => {
  it("hides one organisation's invoices from another", async () => {
    const { owner, customerId } = await mixedSetup("ivc-tenant-a");
    const stranger = await signUp("ivc-tenant-b");
    const open = await finalized(owner, { customer_id: customerId, period: "2026-05" });
    for (const [path, body] of [
      [`/v1/invoices/${open.id}`, undefined],
      [`/v1/invoices/${open.id}/document`, undefined],
      [`/v1/invoices/${open.id}/finalize`, {}],
      [`/v1/invoices/${open.id}/cancel`, {}],
      [`/v1/invoices/${open.id}/pay`, { method: "cash" }],
    ] as const) {
      await expectProblem(await call(path, { token: stranger.access_token, body }), 404);
    }
    // Nor can B invoice A's customer.
    await expectProblem(await postInvoice(stranger, { customer_id: customerId, period: "2026-05" }), 422);
    const list = await expectJson<{ data: Invoice[] }>(await call("/v1/invoices", { token: stranger.access_token }), 200);
    expect(list.data).toEqual([]);
    expect(await getInvoice(owner, open.id)).toEqual(open);
  });

  it("lets a viewer read invoices but not create, finalize, cancel or pay them", async () => {
    const { owner, customerId } = await mixedSetup("ivc-viewer");
    const viewer = await joinOrgAs(owner, "viewer");
    const draft = await createInvoice(owner, { customer_id: customerId, period: "2026-05" });
    const as = { token: viewer.access_token, orgId: owner.orgId };
    expect((await expectJson<{ data: Invoice[] }>(await call("/v1/invoices", as), 200)).data.map((i) => i.id)).toEqual([draft.id]);
    expect((await call(`/v1/invoices/${draft.id}`, as)).status).toBe(200);
    expect((await call(`/v1/invoices/${draft.id}/document`, as)).status).toBe(200);
    await expectProblem(await call("/v1/invoices", { ...as, body: { customer_id: customerId, period: "2026-06" } }), 403);
    for (const action of ["finalize", "cancel", "pay"]) {
      await expectProblem(await call(`/v1/invoices/${draft.id}/${action}`, { ...as, body: { method: "cash" } }), 403);
    }
    await expectProblem(await call("/v1/invoices/generate/monthly", { ...as, body: { period: "2026-05" } }), 403);
    expect((await getInvoice(owner, draft.id)).status).toBe("draft");
  });
});
