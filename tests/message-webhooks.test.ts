import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messages } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { hubSignature256, twilioSignature } from "../src/lib/signatures";
import whatsappStatus from "./fixtures/webhooks/whatsapp-status.json";
import { expectProblem, fetchWithEnv, testCtx } from "./harness/helpers";

const SECRETS = {
  TWILIO_AUTH_TOKEN: "status-test-twilio-token",
  WHATSAPP_APP_SECRET: "status-test-app-secret",
  WHATSAPP_VERIFY_TOKEN: "status-test-verify",
  PUBLIC_API_URL: "https://api.billx.example",
};

/** A message as the consumer leaves it after the provider accepted it. */
async function sentMessage(channel: "sms" | "whatsapp", providerMessageId: string, status: "sent" | "delivered" = "sent") {
  const id = newId("msg");
  await testCtx().db.insert(messages).values({ id, channel, recipient: "+14155550100", body: "hello", status, providerMessageId, attempts: 1 });
  return id;
}

const statusOf = async (id: string) => (await testCtx().db.select().from(messages).where(eq(messages.id, id)))[0];

async function twilioCallback(params: Record<string, string>, signature?: string) {
  const path = "/v1/webhooks/twilio/message-status";
  const signed = signature ?? (await twilioSignature(SECRETS.TWILIO_AUTH_TOKEN, `${SECRETS.PUBLIC_API_URL}${path}`, params));
  return fetchWithEnv(
    new Request(`http://api.test${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed },
      body: new URLSearchParams(params).toString(),
    }),
    SECRETS,
  );
}

async function whatsappEvent(body: string, signature?: string) {
  return fetchWithEnv(
    new Request("http://api.test/v1/webhooks/whatsapp", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Hub-Signature-256": signature ?? (await hubSignature256(SECRETS.WHATSAPP_APP_SECRET, body)) },
      body,
    }),
    SECRETS,
  );
}

function whatsappPayload(wamid: string, status: string, errors?: unknown[]) {
  const payload = structuredClone(whatsappStatus) as typeof whatsappStatus;
  const change = payload.entry[0]!.changes[0]!;
  change.value.statuses = [{ ...change.value.statuses[0]!, id: wamid, status, ...(errors ? { errors } : {}) }];
  return JSON.stringify(payload);
}

describe("Twilio message status callbacks", () => {
  it("apply a signed delivered status", async () => {
    const id = await sentMessage("sms", "SM00000000000000000000000000000001");
    const response = await twilioCallback({ MessageSid: "SM00000000000000000000000000000001", MessageStatus: "delivered", AccountSid: "AC1" });
    expect(response.status).toBe(204);
    expect((await statusOf(id))?.status).toBe("delivered");
  });

  it("refuse a forged signature with 403 and change nothing", async () => {
    const id = await sentMessage("sms", "SM00000000000000000000000000000002");
    await expectProblem(
      await twilioCallback({ MessageSid: "SM00000000000000000000000000000002", MessageStatus: "delivered" }, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
      403,
    );
    // Signed for other parameters than those sent: a replayed signature does not carry over.
    const other = await twilioSignature(SECRETS.TWILIO_AUTH_TOKEN, `${SECRETS.PUBLIC_API_URL}/v1/webhooks/twilio/message-status`, {
      MessageSid: "SMx",
      MessageStatus: "sent",
    });
    await expectProblem(await twilioCallback({ MessageSid: "SM00000000000000000000000000000002", MessageStatus: "delivered" }, other), 403);
    expect((await statusOf(id))?.status).toBe("sent");
  });

  it("never move a status backwards when callbacks arrive out of order", async () => {
    const id = await sentMessage("sms", "SM00000000000000000000000000000003", "delivered");
    expect((await twilioCallback({ MessageSid: "SM00000000000000000000000000000003", MessageStatus: "sent" })).status).toBe(204);
    expect((await statusOf(id))?.status).toBe("delivered");
  });

  it("record an undelivered message as failed with Twilio's error code", async () => {
    const id = await sentMessage("sms", "SM00000000000000000000000000000004");
    await twilioCallback({ MessageSid: "SM00000000000000000000000000000004", MessageStatus: "undelivered", ErrorCode: "30003" });
    expect(await statusOf(id)).toMatchObject({ status: "failed", lastError: "twilio error 30003" });
  });
});

describe("WhatsApp webhook", () => {
  it("answers Meta's subscription challenge only with the right verify token", async () => {
    const url = (token: string) => `http://api.test/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=1158201444`;
    const ok = await fetchWithEnv(new Request(url(SECRETS.WHATSAPP_VERIFY_TOKEN)), SECRETS);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("1158201444");
    await expectProblem(await fetchWithEnv(new Request(url("guess")), SECRETS), 403);
  });

  it("applies signed delivery statuses to the message log", async () => {
    const id = await sentMessage("whatsapp", "wamid.TEST-delivered");
    expect((await whatsappEvent(whatsappPayload("wamid.TEST-delivered", "delivered"))).status).toBe(200);
    expect((await statusOf(id))?.status).toBe("delivered");
    await whatsappEvent(whatsappPayload("wamid.TEST-delivered", "read"));
    expect((await statusOf(id))?.status).toBe("read");
  });

  it("records a failed status with WhatsApp's error", async () => {
    const id = await sentMessage("whatsapp", "wamid.TEST-failed");
    await whatsappEvent(whatsappPayload("wamid.TEST-failed", "failed", [{ code: 131026, title: "Message undeliverable" }]));
    expect(await statusOf(id)).toMatchObject({ status: "failed", lastError: "whatsapp error 131026: Message undeliverable" });
  });

  it("refuses a forged X-Hub-Signature-256 with 403 and changes nothing", async () => {
    const id = await sentMessage("whatsapp", "wamid.TEST-forged");
    const body = whatsappPayload("wamid.TEST-forged", "read");
    await expectProblem(await whatsappEvent(body, await hubSignature256("not the app secret", body)), 403);
    await expectProblem(await whatsappEvent(body, "sha256=00"), 403);
    expect((await statusOf(id))?.status).toBe("sent");
  });
});
