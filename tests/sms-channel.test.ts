import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deadLetters, messages } from "../src/db/schema";
import { QUEUES } from "../src/index";
import { deliverMessage } from "../src/modules/messaging/outbound/consumer";
import { type SendInput, sendMessage } from "../src/modules/messaging/outbound/service";
import { deliverOutbound, fakeTwilio, heldMessage, messageRow, twilioErrorBody } from "./harness/fakes";
import { testCtx } from "./harness/helpers";

const ACCOUNT_SID = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90";
const MESSAGES_PATH = `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`;
const STATUS_CALLBACK = "https://api.billx.test/v1/webhooks/twilio/message-status";

function sms(input: Omit<SendInput, "orgId" | "channel">): SendInput {
  return { orgId: null, channel: "sms", ...input };
}

describe("SMS through Twilio", () => {
  it("posts To, From, Body and the status callback to Messages.json with basic auth, and keeps Twilio's sid", async () => {
    const to = "+14155550201";
    const { message } = await sendMessage(testCtx(), { orgId: null, channel: "sms", recipient: to, body: "Your bill INV-7 for ₦12,500 is ready" });

    await expect.poll(async () => (await messageRow(message.id))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");

    const requests = await fakeTwilio.requests(to);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", path: MESSAGES_PATH });
    expect(requests[0]?.headers.authorization).toBe(`Basic ${btoa(`${ACCOUNT_SID}:test-twilio-token`)}`);
    expect(requests[0]?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(requests[0]?.body).toEqual({ To: to, From: "+15005550006", Body: "Your bill INV-7 for ₦12,500 is ready", StatusCallback: STATUS_CALLBACK });

    const [created] = await fakeTwilio.messages(to);
    expect(created).toMatchObject({ to, from: "+15005550006", body: "Your bill INV-7 for ₦12,500 is ready", status: "queued" });
    expect(created?.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", providerMessageId: created?.sid, attempts: 1, lastError: null });
  });

  it("sends a media URL as Twilio's MediaUrl (an MMS)", async () => {
    const to = "+14155550202";
    const { message, job } = await heldMessage(sms({ recipient: to, body: "Your receipt", media: { url: "https://files.billx.test/receipts/r-1.png" } }));

    await deliverOutbound(job, 1, "q-sms-media");

    const [request] = await fakeTwilio.requests(to);
    expect(request?.body).toEqual({
      To: to,
      From: "+15005550006",
      Body: "Your receipt",
      MediaUrl: "https://files.billx.test/receipts/r-1.png",
      StatusCallback: STATUS_CALLBACK,
    });
    const row = await messageRow(message.id);
    expect(row).toMatchObject({ status: "sent" });
    expect(row?.providerMessageId).toMatch(/^MM[0-9a-f]{32}$/);
  });

  it("asks for no status callback when PUBLIC_API_URL is not set", async () => {
    const to = "+14155550203";
    const { message, job, env } = await heldMessage(sms({ recipient: to, body: "hello" }), { PUBLIC_API_URL: undefined });

    await deliverOutbound(job, 1, "q-sms-no-callback", env);

    const [request] = await fakeTwilio.requests(to);
    expect(request?.body).toEqual({ To: to, From: "+15005550006", Body: "hello" });
    expect(await messageRow(message.id)).toMatchObject({ status: "sent" });
  });

  it("retries three 500s and sends the message exactly once on the fourth attempt", async () => {
    const to = "+14155550204";
    const { message, job } = await heldMessage(sms({ recipient: to, body: "Payment received, thank you" }));
    await fakeTwilio.fail(
      to,
      [1, 2, 3].map(() => ({ status: 500, body: twilioErrorBody(500, 20500, "Internal Server Error") })),
    );

    for (const attempt of [1, 2, 3]) {
      const result = await deliverOutbound(job, attempt, "q-sms-flaky");
      expect(result.retryMessages).toEqual([{ msgId: "q-sms-flaky" }]);
      expect(result.explicitAcks).toEqual([]);
      // Back in the queue, waiting for the retry, with the reason visible.
      expect(await messageRow(message.id)).toMatchObject({
        status: "queued",
        attempts: attempt,
        lastError: "twilio: Internal Server Error (Twilio error 20500)",
      });
    }
    const last = await deliverOutbound(job, 4, "q-sms-flaky");
    expect(last.explicitAcks).toEqual(["q-sms-flaky"]);
    expect(last.retryMessages).toEqual([]);

    expect(await fakeTwilio.requests(to)).toHaveLength(4);
    const created = await fakeTwilio.messages(to);
    expect(created).toHaveLength(1);
    const rows = await testCtx().db.select().from(messages).where(eq(messages.recipient, to));
    expect(rows).toMatchObject([{ id: message.id, status: "sent", providerMessageId: created[0]?.sid, attempts: 4, lastError: null }]);
  });

  it("marks the message failed with Twilio's reason when Twilio refuses the number, and never retries", async () => {
    // Twilio's documented test number that is never a valid destination (error 21211).
    const to = "+15005550001";
    const { message, job } = await heldMessage(sms({ recipient: to, body: "hello" }));

    const result = await deliverOutbound(job, 1, "q-sms-invalid");

    expect(result.explicitAcks).toEqual(["q-sms-invalid"]);
    expect(result.retryMessages).toEqual([]);
    expect(await messageRow(message.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: "twilio: The 'To' number +15005550001 is not a valid phone number. (Twilio error 21211)",
      providerMessageId: null,
    });
    // A stray redelivery of the same job does not try again.
    await deliverOutbound(job, 2, "q-sms-invalid");
    expect(await fakeTwilio.requests(to)).toHaveLength(1);
    expect(await testCtx().db.select().from(deadLetters).where(eq(deadLetters.messageId, "q-sms-invalid"))).toEqual([]);
  });

  it("marks the message failed when Twilio rejects the credentials", async () => {
    const to = "+14155550205";
    const { message, job, env } = await heldMessage(sms({ recipient: to, body: "hello" }), { TWILIO_AUTH_TOKEN: "rotated-away" });

    const result = await deliverOutbound(job, 1, "q-sms-bad-token", env);

    expect(result.retryMessages).toEqual([]);
    expect(await messageRow(message.id)).toMatchObject({ status: "failed", lastError: "twilio: Authenticate (Twilio error 20003)" });
    expect(await fakeTwilio.messages(to)).toEqual([]);
  });

  it("waits at least as long as Twilio's Retry-After after a 429", async () => {
    const to = "+14155550206";
    const { message, job } = await heldMessage(sms({ recipient: to, body: "hello" }));
    await fakeTwilio.fail(to, [{ status: 429, body: twilioErrorBody(429, 20429, "Too Many Requests"), headers: { "Retry-After": "120" } }]);

    const throttled = await deliverOutbound(job, 1, "q-sms-429");

    expect(throttled.retryMessages).toEqual([{ msgId: "q-sms-429" }]);
    expect(throttled.retryOptions).toHaveLength(1);
    expect(throttled.retryOptions[0]?.delaySeconds).toBeGreaterThanOrEqual(120);
    expect(await messageRow(message.id)).toMatchObject({ status: "queued", lastError: "twilio: Too Many Requests (Twilio error 20429)" });

    await deliverOutbound(job, 2, "q-sms-429");
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 2 });
    expect(await fakeTwilio.messages(to)).toHaveLength(1);
  });

  it("sends once when the same job is delivered twice, one after the other", async () => {
    const to = "+14155550207";
    const { message, job } = await heldMessage(sms({ recipient: to, body: "hello" }));

    const first = await deliverOutbound(job, 1, "q-sms-dup");
    const second = await deliverOutbound(job, 1, "q-sms-dup");

    expect(first.explicitAcks).toEqual(["q-sms-dup"]);
    expect(second.explicitAcks).toEqual(["q-sms-dup"]);
    expect(await fakeTwilio.requests(to)).toHaveLength(1);
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 1 });
  });

  it("sends once when the same job is delivered twice at the same time", async () => {
    const to = "+14155550208";
    const { message, job } = await heldMessage(sms({ recipient: to, body: "hello" }));

    const results = await Promise.all([deliverOutbound(job, 1, "q-sms-race"), deliverOutbound(job, 1, "q-sms-race")]);

    expect(results.map((r) => r.explicitAcks)).toEqual([["q-sms-race"], ["q-sms-race"]]);
    expect(await fakeTwilio.requests(to)).toHaveLength(1);
    const created = await fakeTwilio.messages(to);
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 1, providerMessageId: created[0]?.sid });
  });

  it("marks the message failed, naming TWILIO_AUTH_TOKEN, when it is not set", async () => {
    const to = "+14155550209";
    const { message, job, ctx } = await heldMessage(sms({ recipient: to, body: "hello" }), { TWILIO_AUTH_TOKEN: undefined });

    await deliverMessage(ctx, job, 1);

    expect(await messageRow(message.id)).toMatchObject({ status: "failed", attempts: 1, lastError: "TWILIO_AUTH_TOKEN is not set: sms is not configured" });
    expect(await fakeTwilio.requests(to)).toEqual([]);
  });

  it("gives the message up as dead, with a dead letter, when the last attempt fails too", async () => {
    const to = "+14155550210";
    const { message, job } = await heldMessage(sms({ recipient: to, body: "hello" }));
    await fakeTwilio.fail(to, [{ status: 503, body: twilioErrorBody(503, 20503, "Service Unavailable") }]);

    const result = await deliverOutbound(job, 6, "q-sms-last");

    expect(result.explicitAcks).toEqual(["q-sms-last"]);
    expect(result.retryMessages).toEqual([]);
    expect(await messageRow(message.id)).toMatchObject({ status: "dead", lastError: "twilio: Service Unavailable (Twilio error 20503)" });
    const letters = await testCtx().db.select().from(deadLetters).where(eq(deadLetters.messageId, "q-sms-last"));
    expect(letters).toMatchObject([
      {
        queue: QUEUES.outbound,
        kind: "message.send",
        body: { kind: "message.send", messageId: message.id },
        attempts: 6,
        reason: "gave up after 6 attempts: twilio: Service Unavailable (Twilio error 20503)",
      },
    ]);
  });
});
