import { SELF } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { campaigns, customers, messages } from "../src/db/schema";
import { hubSignature256, twilioSignature } from "../src/lib/signatures";
import { startDueCampaigns } from "../src/modules/content/campaigns/service";
import { call, expectJson, type SignedUp, signUp, uniqueIp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

const PUBLIC = "https://api.billx.test";
let phoneCounter = Math.floor(Math.random() * 1_000_000);
const uniquePhone = () => `+1415${String(++phoneCounter % 10_000_000).padStart(7, "0")}`;

interface Campaign {
  id: string;
  status: string;
  message: string;
  counts: { total: number; queued: number; sent: number; delivered: number; failed: number };
}

async function customer(owner: SignedUp, body: Record<string, unknown>): Promise<{ id: string; phone: string | null }> {
  return expectJson(await call("/v1/customers", { token: owner.access_token, body: { name: "Customer", ...body } }), 201);
}

function create(owner: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/campaigns", { token: owner.access_token, body });
}

async function campaignMessages(campaignId: string) {
  return testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "campaign"), eq(messages.entityId, campaignId)));
}

async function inboundSms(params: Record<string, string>, signature?: string): Promise<Response> {
  const path = "/v1/webhooks/twilio/inbound-sms";
  const signed = signature ?? (await twilioSignature("test-twilio-token", `${PUBLIC}${path}`, params));
  return SELF.fetch(`http://api.test${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed, "CF-Connecting-IP": uniqueIp() },
    body: new URLSearchParams(params).toString(),
  });
}

describe("campaigns", () => {
  it("messages the audience by tags, owing or all through the queue, never an opted-out customer", async () => {
    const owner = await signUp("campaigns");
    const vip = await customer(owner, { phone: uniquePhone(), tags: ["vip"] });
    const owing = await customer(owner, { phone: uniquePhone(), opening_balance: 5000 });
    const plain = await customer(owner, { phone: uniquePhone() });
    const optedOut = await customer(owner, { phone: uniquePhone(), tags: ["vip"] });
    await customer(owner, { email: "no-phone@example.com", tags: ["vip"] });
    await testCtx().db.update(customers).set({ marketingOptOut: true }).where(eq(customers.id, optedOut.id));

    const byTag = await expectJson<Campaign>(await create(owner, { channel: "sms", message: "VIP sale!", audience: { tags: ["vip"] } }), 201);
    expect(byTag).toMatchObject({ status: "sent", message: "VIP sale!", counts: { total: 1, queued: 1 } });
    expect((await campaignMessages(byTag.id)).map((m) => m.recipient)).toEqual([vip.phone]);

    const byOwing = await expectJson<Campaign>(await create(owner, { channel: "sms", message: "Please pay", audience: { owing: true } }), 201);
    expect((await campaignMessages(byOwing.id)).map((m) => m.recipient)).toEqual([owing.phone]);

    const toAll = await expectJson<Campaign>(await create(owner, { channel: "sms", message: "Hello all", audience: { all: true } }), 201);
    const recipients = (await campaignMessages(toAll.id)).map((m) => m.recipient).sort();
    expect(recipients).toEqual([vip.phone, owing.phone, plain.phone].sort());
    for (const message of await campaignMessages(toAll.id)) expect(message.idempotencyKey).toMatch(new RegExp(`^campaign:${toAll.id}:cus_`));

    // The counts follow the messages' statuses as the queue consumer moves them.
    await expect
      .poll(async () => (await expectJson<Campaign>(await call(`/v1/campaigns/${toAll.id}`, { token: owner.access_token }), 200)).counts, { timeout: 10_000 })
      .toMatchObject({ total: 3, queued: 0, sent: 3 });
  });

  it("messages each customer once when a scheduled campaign is started five times at once and by the cron", async () => {
    const owner = await signUp("campaigns");
    const people = await Promise.all(Array.from({ length: 6 }, () => customer(owner, { phone: uniquePhone(), tags: ["weekly"] })));
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await expectJson<Campaign>(
      await create(owner, { channel: "sms", message: "Weekly offer", audience: { tags: ["weekly"] }, send_at: later }),
      201,
    );
    expect(scheduled).toMatchObject({ status: "scheduled", counts: { total: 0 } });

    const starts = await Promise.all(
      Array.from({ length: 5 }, () => call(`/v1/campaigns/${scheduled.id}/start`, { token: owner.access_token, method: "POST" })),
    );
    expect(starts.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    // The cron finding it due at the same time changes nothing either.
    await testCtx()
      .db.update(campaigns)
      .set({ status: "scheduled", sendAt: new Date(Date.now() - 1000) })
      .where(eq(campaigns.id, scheduled.id));
    await startDueCampaigns(testCtx());
    const sent = await campaignMessages(scheduled.id);
    expect(sent).toHaveLength(6);
    expect(new Set(sent.map((m) => m.recipient))).toEqual(new Set(people.map((p) => p.phone)));
    const after = await expectJson<Campaign>(await call(`/v1/campaigns/${scheduled.id}`, { token: owner.access_token }), 200);
    expect(after).toMatchObject({ status: "sent", counts: { total: 6 } });
  });

  it("cancels before it starts, not after; a cancelled campaign cannot be started", async () => {
    const owner = await signUp("campaigns");
    await customer(owner, { phone: uniquePhone() });
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await expectJson<Campaign>(await create(owner, { channel: "sms", message: "Soon", audience: { all: true }, send_at: later }), 201);
    expect(await expectJson<Campaign>(await call(`/v1/campaigns/${scheduled.id}/cancel`, { token: owner.access_token, method: "POST" }), 200)).toMatchObject({
      status: "cancelled",
    });
    await expectProblem(await call(`/v1/campaigns/${scheduled.id}/start`, { token: owner.access_token, method: "POST" }), 409);
    const now = await expectJson<Campaign>(await create(owner, { channel: "sms", message: "Now", audience: { all: true } }), 201);
    await expectProblem(await call(`/v1/campaigns/${now.id}/cancel`, { token: owner.access_token, method: "POST" }), 409);
    expect(await campaignMessages(scheduled.id)).toEqual([]);
  });

  it("sends an AI text by ai_content_id and refuses bad input with 422", async () => {
    const owner = await signUp("campaigns");
    for (const body of [
      { channel: "sms", message: "x", audience: {} },
      { channel: "sms", audience: { all: true } },
      { channel: "sms", message: "x", ai_content_id: "aic_x", audience: { all: true } },
      { channel: "sms", ai_content_id: "aic_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", audience: { all: true } },
      { channel: "fax", message: "x", audience: { all: true } },
      { channel: "sms", message: "x\u0000", audience: { all: true } },
      { channel: "sms", message: "x", banner_file_id: "file_nope", audience: { all: true } },
      { channel: "sms", message: "x", audience: { all: true }, send_at: "tomorrow" },
    ]) {
      await expectProblem(await create(owner, body), 422);
    }
  });

  it("shows one organisation none of another's campaigns", async () => {
    const [owner, other] = [await signUp("campaigns"), await signUp("campaigns")];
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await expectJson<Campaign>(await create(owner, { channel: "sms", message: "Mine", audience: { all: true }, send_at: later }), 201);
    for (const [path, method] of [
      [`/v1/campaigns/${scheduled.id}`, "GET"],
      [`/v1/campaigns/${scheduled.id}/start`, "POST"],
      [`/v1/campaigns/${scheduled.id}/cancel`, "POST"],
    ] as const) {
      await expectProblem(await call(path, { token: other.access_token, method }), 404);
    }
    expect((await expectJson<{ data: unknown[] }>(await call("/v1/campaigns", { token: other.access_token }), 200)).data).toEqual([]);
    expect((await expectJson<Campaign>(await call(`/v1/campaigns/${scheduled.id}`, { token: owner.access_token }), 200)).status).toBe("scheduled");
  });
});

describe("STOP and START", () => {
  it("opts a customer out by signed inbound SMS, confirms once, and campaigns skip them until START", async () => {
    const owner = await signUp("campaigns");
    const phone = uniquePhone();
    const person = await customer(owner, { phone });
    await expectProblem(await inboundSms({ From: phone, Body: "STOP", MessageSid: "SMforged" }, "bad-signature"), 403);
    expect((await testCtx().db.select().from(customers).where(eq(customers.id, person.id)))[0]?.marketingOptOut).toBe(false);

    const answer = await inboundSms({ From: phone, Body: "stop", MessageSid: `SM${phone}1` });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe("<Response/>");
    await inboundSms({ From: phone, Body: "STOP", MessageSid: `SM${phone}2` });
    const confirmations = await testCtx()
      .db.select()
      .from(messages)
      .where(and(eq(messages.entityType, "marketing_keyword"), eq(messages.recipient, phone)));
    expect(confirmations).toHaveLength(1);
    expect(confirmations[0]?.body).toContain("no longer receive marketing");

    const skipped = await expectJson<Campaign>(await create(owner, { channel: "sms", message: "Sale", audience: { all: true } }), 201);
    expect(skipped.counts.total).toBe(0);

    await inboundSms({ From: phone, Body: "START", MessageSid: `SM${phone}3` });
    const reached = await expectJson<Campaign>(await create(owner, { channel: "sms", message: "Sale", audience: { all: true } }), 201);
    expect(reached.counts.total).toBe(1);
  });

  it("opts out by a STOP sent to the platform's WhatsApp number", async () => {
    const owner = await signUp("campaigns");
    const phone = uniquePhone();
    const person = await customer(owner, { phone });
    const payload = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [
        {
          changes: [
            {
              field: "messages",
              value: {
                metadata: { phone_number_id: "1234567890" },
                messages: [{ id: `wamid.${phone}`, from: phone.slice(1), type: "text", text: { body: "Unsubscribe" } }],
              },
            },
          ],
        },
      ],
    });
    const response = await SELF.fetch("http://api.test/v1/webhooks/whatsapp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "X-Hub-Signature-256": await hubSignature256("test-wa-app-secret", payload),
        "CF-Connecting-IP": uniqueIp(),
      },
      body: payload,
    });
    expect(response.status).toBe(200);
    expect((await testCtx().db.select().from(customers).where(eq(customers.id, person.id)))[0]?.marketingOptOut).toBe(true);
    const [confirmation] = await testCtx()
      .db.select()
      .from(messages)
      .where(and(eq(messages.entityType, "marketing_keyword"), eq(messages.recipient, phone)));
    expect(confirmation?.channel).toBe("whatsapp");
  });
});
