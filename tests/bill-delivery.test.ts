import { and, eq } from "drizzle-orm";
import { PDFDocument } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { auditEvents, bills, messages } from "../src/db/schema";
import { loadConfig } from "../src/env";
import { signBillLink, verifyBillLink } from "../src/modules/retail/bills/links";
import { call, expectJson, joinOrgAs, type SignedUp, signUp, uniqueEmail, uniqueIp } from "./harness/api";
import { fakeResend, fakeTwilio, fakeWhatsApp, messageRow } from "./harness/fakes";
import { expectProblem, testCtx, testEnv } from "./harness/helpers";

interface Bill {
  id: string;
  number: string | null;
  status: string;
  total: number;
  balance_due: number;
}

interface Sent {
  message_id: string;
  channel: string;
  recipient: string;
  url: string;
  expires_at: string;
}

/** Someone acting in one organisation: its token and id (X-Org-Id, for users with several). */
interface Shop {
  token: string;
  orgId: string;
}

function asShop(user: SignedUp): Shop {
  return { token: user.access_token, orgId: user.orgId };
}

let phoneCounter = 0;
const phoneBase = Math.floor(Math.random() * 90_000) + 10_000;
/** A phone number no other test (or file) sends to, so the shared fakes' records are ours alone. */
function uniquePhone(): string {
  return `+1415${phoneBase}${String(++phoneCounter).padStart(2, "0")}`;
}

function as(shop: Shop, path: string, options: { body?: unknown; headers?: Record<string, string>; method?: string } = {}): Promise<Response> {
  return call(path, { token: shop.token, orgId: shop.orgId, ...options });
}

async function createCustomer(shop: Shop, body: Record<string, unknown>): Promise<{ id: string }> {
  return expectJson(await as(shop, "/v1/customers", { body: { name: "Asha Traders", ...body } }), 201);
}

/** An issued bill of 2.5 kg at 18.50 with 18% tax (46.25 + 8.33) and a 5.00 delivery line, less 1.00: total 58.58. */
async function issuedBill(shop: Shop, customerId: string | null, extra: Record<string, unknown> = {}): Promise<Bill> {
  const body = {
    customer_id: customerId,
    items: [
      { description: "Arabica beans <b>1kg</b>", quantity: "2.5", unit: "kg", unit_price: 1850, tax_rate_bps: 1800 },
      { description: "Delivery", quantity: 1, unit_price: 500 },
    ],
    discount: 100,
    due_date: "2026-06-30",
    notes: 'Pay by "bank" & thank you <i>!</i>',
    issue: true,
    ...extra,
  };
  return expectJson<Bill>(await as(shop, "/v1/bills", { body }), 201);
}

function send(shop: Shop, billId: string, channel: string, key?: string): Promise<Response> {
  return as(shop, `/v1/bills/${billId}/send`, { body: { channel }, headers: key ? { "Idempotency-Key": key } : {} });
}

/** The path of a link (`/b/<token>`): the Worker under test answers it whatever host the link names. */
function pathOf(url: string): string {
  return new URL(url).pathname;
}

async function messagesOfBill(billId: string) {
  return testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "bill"), eq(messages.entityId, billId)));
}

async function sentStatus(messageId: string) {
  return (await messageRow(messageId))?.status;
}

describe("sending a bill", () => {
  it("queues an email with the figures and the link, delivers it through Resend, and audits it (202)", async () => {
    const owner = await signUp("send-email");
    const shop = asShop(owner);
    const email = uniqueEmail("customer");
    const customer = await createCustomer(shop, { email });
    const bill = await issuedBill(shop, customer.id);
    expect(bill.total).toBe(5858);

    const sent = await expectJson<Sent>(await send(shop, bill.id, "email"), 202);

    expect(sent).toEqual({
      message_id: expect.stringMatching(/^msg_/),
      channel: "email",
      recipient: email,
      url: expect.stringMatching(/^https:\/\/api\.billx\.test\/b\/[\w-]+\.[\w-]+\.[\w-]+$/),
      expires_at: expect.any(String),
    });
    // BILL_LINK_TTL_DAYS defaults to 30.
    const ttlDays = (Date.parse(sent.expires_at) - Date.now()) / 86_400_000;
    expect(ttlDays).toBeGreaterThan(29.9);
    expect(ttlDays).toBeLessThanOrEqual(30);

    const [row] = await messagesOfBill(bill.id);
    expect(row).toMatchObject({ id: sent.message_id, orgId: owner.orgId, channel: "email", recipient: email });
    const org = await expectJson<{ name: string }>(await as(shop, `/v1/orgs/${owner.orgId}`), 200);
    expect(row?.subject).toBe(`Bill ${bill.number} from ${org.name}`);
    expect(row?.body).toContain(`${org.name}: bill ${bill.number}.`);
    expect(row?.body).toContain("Total $58.58, balance due $58.58.");
    expect(row?.body).toContain(sent.url);

    await expect.poll(() => sentStatus(sent.message_id), { timeout: 10_000, interval: 200 }).toBe("sent");
    const inbox = await fakeResend.emails(email);
    expect(inbox).toHaveLength(1);
    expect(inbox[0]?.text).toContain(sent.url);
    expect(inbox[0]?.subject).toBe(`Bill ${bill.number} from ${org.name}`);
    // The PDF travels with the email, not only the link.
    const [attachment] = inbox[0]?.attachments ?? [];
    expect(attachment?.filename).toBe(`${bill.number}.pdf`);
    expect(atob(attachment?.content ?? "").startsWith("%PDF-")).toBe(true);

    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, owner.orgId), eq(auditEvents.action, "bill.sent")));
    expect(audit).toMatchObject([
      { targetType: "bill", targetId: bill.id, actorUserId: owner.user.id, metadata: { channel: "email", message_id: sent.message_id } },
    ]);
    // The link is a credential; the audit trail never holds it.
    expect(JSON.stringify(audit)).not.toContain(new URL(sent.url).pathname.slice(3));
  });

  it("texts the customer's phone by SMS through Twilio, and by WhatsApp through the Cloud API", async () => {
    const shop = asShop(await signUp("send-phone"));
    const phone = uniquePhone();
    const customer = await createCustomer(shop, { phone });
    const bill = await issuedBill(shop, customer.id);

    const bySms = await expectJson<Sent>(await send(shop, bill.id, "sms"), 202);
    expect(bySms).toMatchObject({ channel: "sms", recipient: phone });
    await expect.poll(() => sentStatus(bySms.message_id), { timeout: 10_000, interval: 200 }).toBe("sent");
    const [sms] = await fakeTwilio.messages(phone);
    expect(sms?.body).toContain(bySms.url);
    expect(sms?.body).toContain("Total $58.58, balance due $58.58.");

    const byWhatsApp = await expectJson<Sent>(await send(shop, bill.id, "whatsapp"), 202);
    expect(byWhatsApp).toMatchObject({ channel: "whatsapp", recipient: phone });
    await expect.poll(() => sentStatus(byWhatsApp.message_id), { timeout: 10_000, interval: 200 }).toBe("sent");
    const [whatsapp] = await fakeWhatsApp.messages(phone.slice(1));
    expect(JSON.stringify(whatsapp)).toContain(byWhatsApp.url);
    // Each send signs its own link; both open the bill.
    expect(byWhatsApp.url).not.toBe(bySms.url);
    expect((await call(pathOf(bySms.url))).status).toBe(200);
    expect((await call(pathOf(byWhatsApp.url))).status).toBe(200);
  });

  it("sends a paid bill too (as a receipt), with nothing left due", async () => {
    const shop = asShop(await signUp("send-paid"));
    const customer = await createCustomer(shop, { email: uniqueEmail("paid") });
    const bill = await issuedBill(shop, customer.id);
    await expectJson(await as(shop, `/v1/bills/${bill.id}/payments`, { body: { amount: 5858, method: "cash" } }), 201);

    const sent = await expectJson<Sent>(await send(shop, bill.id, "email"), 202);

    const [row] = await messagesOfBill(bill.id);
    expect(row?.id).toBe(sent.message_id);
    expect(row?.body).toContain("Total $58.58, balance due $0.00.");
  });

  it("refuses a draft or a void bill with 409, and sends nothing", async () => {
    const shop = asShop(await signUp("send-draft"));
    const customer = await createCustomer(shop, { email: uniqueEmail("draft") });
    const draft = await issuedBill(shop, customer.id, { issue: false });
    const voided = await issuedBill(shop, customer.id);
    await expectJson(await as(shop, `/v1/bills/${voided.id}/void`, { method: "POST" }), 200);

    expect((await expectProblem(await send(shop, draft.id, "email"), 409)).detail).toMatch(/draft/);
    expect((await expectProblem(await send(shop, voided.id, "email"), 409)).detail).toMatch(/void/);

    expect(await messagesOfBill(draft.id)).toEqual([]);
    expect(await messagesOfBill(voided.id)).toEqual([]);
  });

  it("answers 422 naming the customer's missing phone, email, or the missing customer, and sends nothing", async () => {
    const shop = asShop(await signUp("send-missing"));
    const emailOnly = await createCustomer(shop, { email: uniqueEmail("only-email") });
    const phoneOnly = await createCustomer(shop, { phone: uniquePhone() });
    const withoutPhone = await issuedBill(shop, emailOnly.id);
    const withoutEmail = await issuedBill(shop, phoneOnly.id);
    const walkIn = await issuedBill(shop, null);

    for (const channel of ["sms", "whatsapp"]) {
      const problem = await expectProblem(await send(shop, withoutPhone.id, channel), 422);
      expect(problem.errors).toEqual([{ path: "customer.phone", message: expect.stringContaining("no phone number") }]);
    }
    expect((await expectProblem(await send(shop, withoutEmail.id, "email"), 422)).errors).toEqual([
      { path: "customer.email", message: expect.stringContaining("no email address") },
    ]);
    expect((await expectProblem(await send(shop, walkIn.id, "sms"), 422)).errors).toEqual([{ path: "customer_id", message: expect.any(String) }]);
    expect((await expectProblem(await send(shop, walkIn.id, "fax"), 422)).errors?.[0]?.path).toBe("channel");

    for (const bill of [withoutPhone, withoutEmail, walkIn]) expect(await messagesOfBill(bill.id)).toEqual([]);
  });

  it("sends once for one Idempotency-Key, however many times and however concurrently it is retried", async () => {
    const shop = asShop(await signUp("send-idem"));
    const email = uniqueEmail("idem");
    const customer = await createCustomer(shop, { email });
    const bill = await issuedBill(shop, customer.id);

    const first = await expectJson<Sent>(await send(shop, bill.id, "email", "send-once-1"), 202);
    const retry = await expectJson<Sent>(await send(shop, bill.id, "email", "send-once-1"), 202);
    expect(retry).toEqual(first);

    const racing = await Promise.all(Array.from({ length: 6 }, () => send(shop, bill.id, "email", "send-once-2")));
    const answers = await Promise.all(racing.map((r) => expectJson<Sent>(r, 202)));
    expect(new Set(answers.map((a) => a.message_id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.url)).size).toBe(1);

    // The same key for another channel is a different request.
    await expectProblem(await send(shop, bill.id, "sms", "send-once-1"), 409);

    expect((await messagesOfBill(bill.id)).map((m) => m.id).sort()).toEqual([first.message_id, answers[0]?.message_id].sort());
    await expect.poll(async () => (await fakeResend.emails(email)).length, { timeout: 10_000, interval: 200 }).toBe(2);
  });

  it("needs bills:send: a viewer gets 403 and nothing is sent", async () => {
    const owner = await signUp("send-perm");
    const viewer = await joinOrgAs(owner, "viewer");
    const customer = await createCustomer(asShop(owner), { email: uniqueEmail("perm") });
    const bill = await issuedBill(asShop(owner), customer.id);

    await expectProblem(await send({ token: viewer.access_token, orgId: owner.orgId }, bill.id, "email"), 403);
    await expectProblem(await as({ token: viewer.access_token, orgId: owner.orgId }, `/v1/bills/${bill.id}/link/revoke`, { method: "POST" }), 403);
    expect(await messagesOfBill(bill.id)).toEqual([]);
  });

  it("hides another organisation's bill: send and revoke answer 404, and its links keep working", async () => {
    const a = asShop(await signUp("send-org-a"));
    const b = asShop(await signUp("send-org-b"));
    const customer = await createCustomer(a, { email: uniqueEmail("org-a") });
    const bill = await issuedBill(a, customer.id);
    const sent = await expectJson<Sent>(await send(a, bill.id, "email"), 202);

    await expectProblem(await send(b, bill.id, "email"), 404);
    await expectProblem(await as(b, `/v1/bills/${bill.id}/link/revoke`, { method: "POST" }), 404);

    expect(await messagesOfBill(bill.id)).toHaveLength(1);
    expect((await call(pathOf(sent.url))).status).toBe(200);
  });
});

describe("the bill's public link", () => {
  it("renders the bill as a private, script-free HTML page with the right figures, escaping everything users typed", async () => {
    const owner = await signUp("page");
    const shop: Shop = {
      token: owner.access_token,
      orgId: (
        await expectJson<{ id: string }>(await call("/v1/orgs", { token: owner.access_token, body: { name: "Asha & Sons <Stores>", currency: "EUR" } }), 201)
      ).id,
    };
    const customer = await createCustomer(shop, { name: "<script>alert(1)</script>", email: uniqueEmail("page") });
    const bill = await issuedBill(shop, customer.id);
    await expectJson(await as(shop, `/v1/bills/${bill.id}/payments`, { body: { amount: 2000, method: "cash" } }), 201);
    const sent = await expectJson<Sent>(await send(shop, bill.id, "email"), 202);

    const response = await call(pathOf(sent.url));

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect(response.headers.get("x-robots-tag")).toMatch(/noindex/);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    const html = await response.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("Asha &amp; Sons &lt;Stores&gt;");
    expect(html).toContain("Arabica beans &lt;b&gt;1kg&lt;/b&gt;");
    expect(html).toContain("Pay by &quot;bank&quot; &amp; thank you &lt;i&gt;!&lt;/i&gt;");
    expect(html).toContain(`${bill.number}`);
    expect(html).toContain("2.5 kg");
    expect(html).toContain("2026-06-30");
    expect(html).toContain("Partially paid");
    // subtotal 46.25 + 5.00, discount 1.00, tax 8.33, total 58.58, paid 20.00, due 38.58.
    for (const [label, amount] of [
      ["Subtotal", "€51.25"],
      ["Discount", "−€1.00"],
      ["Tax", "€8.33"],
      ["Total", "€58.58"],
      ["Paid", "€20.00"],
      ["Balance due", "€38.58"],
    ]) {
      expect(html).toMatch(new RegExp(`<td>${label}</td><td class="n">${amount}</td>`));
    }
    // The stylesheet the policy allows is exactly the one on the page.
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(style)));
    expect(csp).toContain(`'sha256-${btoa(String.fromCharCode(...digest))}'`);
  });

  it("serves ?format=pdf as a PDF pdf-lib can read back, even with characters Helvetica cannot draw and many lines", async () => {
    const shop = asShop(await signUp("pdf"));
    const customer = await createCustomer(shop, { name: "Ωmega 李 Stores ₹ — Zoë Łukasz", email: uniqueEmail("pdf") });
    const items = Array.from({ length: 70 }, (_, i) => ({
      description: `Item ${i + 1}: ✓ ${"very long description ".repeat(i % 3 === 0 ? 8 : 1)}${"x".repeat(i === 5 ? 120 : 0)}`,
      quantity: "1.250",
      unit_price: 999,
    }));
    const bill = await issuedBill(shop, customer.id, { items, notes: "Line one 🙂\nLine two\tend" });
    const sent = await expectJson<Sent>(await send(shop, bill.id, "email"), 202);

    const response = await call(`${pathOf(sent.url)}?format=pdf`);

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/pdf");
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect(response.headers.get("content-disposition")).toBe(`inline; filename="${bill.number}.pdf"`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(0, 5))).toBe("%PDF-");
    const pdf = await PDFDocument.load(bytes);
    expect(pdf.getPageCount()).toBeGreaterThanOrEqual(2);
    expect(pdf.getTitle()).toContain(`${bill.number}`);
  });

  it("answers the same 404 for a tampered, expired, revoked, unknown or access token, without caching", async () => {
    const owner = await signUp("link-404");
    const shop = asShop(owner);
    const customer = await createCustomer(shop, { email: uniqueEmail("link-404") });
    const bill = await issuedBill(shop, customer.id);
    const sent = await expectJson<Sent>(await send(shop, bill.id, "email"), 202);
    const token = pathOf(sent.url).slice(3);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    expect((await call(`/b/${token}`)).status).toBe(200);

    // Another bill's id in the payload, signature unchanged.
    const forgedPayload = btoa(JSON.stringify({ ...JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))), sub: "bill_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`;
    const now = new Date();
    const expired = await signBillLink(testCtx().config, { id: bill.id, orgId: owner.orgId, linkVersion: 1 }, new Date(now.getTime() - 31 * 86_400_000));
    const staleVersion = await signBillLink(testCtx().config, { id: bill.id, orgId: owner.orgId, linkVersion: 2 }, now);

    const refused = [
      `${header}.${forgedPayload}.${signature}`,
      `${header}.${payload}.${flipped}`,
      `${header}.${payload}`,
      "not-a-token",
      expired.token,
      staleVersion.token,
      owner.access_token,
    ];
    const details = new Set<string | undefined>();
    for (const candidate of refused) {
      for (const suffix of ["", "?format=pdf"]) {
        const response = await call(`/b/${candidate}${suffix}`);
        expect(response.headers.get("cache-control"), candidate).toBe("private, no-store");
        details.add((await expectProblem(response, 404)).detail);
      }
    }
    expect(details.size).toBe(1);

    // A link is not a credential for the API.
    await expectProblem(await call("/v1/auth/me", { token }), 401);
  });

  it("stops every link sent so far once revoked (204); links sent afterwards work", async () => {
    const shop = asShop(await signUp("link-revoke"));
    const customer = await createCustomer(shop, { email: uniqueEmail("revoke"), phone: uniquePhone() });
    const bill = await issuedBill(shop, customer.id);
    const byEmail = await expectJson<Sent>(await send(shop, bill.id, "email"), 202);
    const bySms = await expectJson<Sent>(await send(shop, bill.id, "sms"), 202);

    const revoked = await as(shop, `/v1/bills/${bill.id}/link/revoke`, { method: "POST" });

    expect(revoked.status).toBe(204);
    await expectProblem(await call(pathOf(byEmail.url)), 404);
    await expectProblem(await call(`${pathOf(bySms.url)}?format=pdf`), 404);
    const [row] = await testCtx().db.select({ linkVersion: bills.linkVersion }).from(bills).where(eq(bills.id, bill.id));
    expect(row?.linkVersion).toBe(2);
    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.targetId, bill.id), eq(auditEvents.action, "bill.links_revoked")));
    expect(audit).toHaveLength(1);

    const again = await expectJson<Sent>(await send(shop, bill.id, "email"), 202);
    expect((await call(pathOf(again.url))).status).toBe(200);
    await expectProblem(await as(shop, "/v1/bills/bill_01JD3X6W6X8Q3M1B0V4T2Y9ZKA/link/revoke", { method: "POST" }), 404);
  });

  it("is rate limited per client IP", async () => {
    const ip = uniqueIp();
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) {
      const response = await call("/b/not-a-token", { ip });
      statuses.push(response.status);
      if (response.status === 429) {
        await expectProblem(response, 429);
        break;
      }
    }
    expect(statuses.filter((s) => s === 404)).toHaveLength(30);
    expect(statuses.at(-1)).toBe(429);
    // Another client is unaffected.
    expect((await call("/b/not-a-token", { ip: uniqueIp() })).status).toBe(404);
  });

  it("lives BILL_LINK_TTL_DAYS days; a bad value is refused naming the variable", async () => {
    const now = new Date("2026-05-01T12:00:00.000Z");
    const config = loadConfig({ ...testEnv, BILL_LINK_TTL_DAYS: "2" });
    const link = await signBillLink(config, { id: "bill_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", orgId: "org_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", linkVersion: 1 }, now);
    expect(link.expiresAt.toISOString()).toBe("2026-05-03T12:00:00.000Z");
    expect(await verifyBillLink(config, link.token, new Date("2026-05-03T11:59:59.000Z"))).toMatchObject({ version: 1 });
    expect(await verifyBillLink(config, link.token, new Date("2026-05-03T12:00:00.000Z"))).toBeNull();
    expect(() => loadConfig({ ...testEnv, BILL_LINK_TTL_DAYS: "0" })).toThrowError(/BILL_LINK_TTL_DAYS/);
  });
});
