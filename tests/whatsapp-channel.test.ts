import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deadLetters, messages } from "../src/db/schema";
import { QUEUES } from "../src/index";
import { deliverMessage } from "../src/modules/messaging/outbound/consumer";
import { type SendInput, sendMessage } from "../src/modules/messaging/outbound/service";
import { deliverOutbound, fakeWhatsApp, graphErrorBody, heldMessage, messageRow } from "./harness/fakes";
import { testCtx } from "./harness/helpers";

// WHATSAPP_API_VERSION is unset in tests: the default version.
const MESSAGES_PATH = "/v22.0/1234567890/messages";

function whatsApp(input: Omit<SendInput, "orgId" | "channel">): SendInput {
  return { orgId: null, channel: "whatsapp", ...input };
}

describe("WhatsApp through the Cloud API", () => {
  it("posts a text message to the phone number's messages edge with the bearer token, and keeps the wamid", async () => {
    const recipient = "+447700900101";
    const to = "447700900101";
    const { message } = await sendMessage(testCtx(), { orgId: null, channel: "whatsapp", recipient, body: "Your bill INV-7 is ready: https://billx.test/b/7" });

    await expect.poll(async () => (await messageRow(message.id))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");

    const requests = await fakeWhatsApp.requests(to);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", path: MESSAGES_PATH });
    expect(requests[0]?.headers.authorization).toBe("Bearer test-wa-token");
    expect(requests[0]?.headers["content-type"]).toBe("application/json");
    expect(requests[0]?.body).toEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to,
      type: "text",
      text: { body: "Your bill INV-7 is ready: https://billx.test/b/7", preview_url: false },
    });
    const [accepted] = await fakeWhatsApp.messages(to);
    expect(accepted?.id).toMatch(/^wamid\./);
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", providerMessageId: accepted?.id, attempts: 1, lastError: null });
  });

  it("sends a template with its language and the variables as body parameters in slot order", async () => {
    const to = "447700900102";
    const { message, job } = await heldMessage(
      whatsApp({
        recipient: `+${to}`,
        template: "bill_ready",
        // Positional slots {{1}}, {{2}}, {{10}}: inserted out of order on purpose.
        variables: { "10": "1 May", "2": "₦12,500", language: "en_GB", "1": "Ada" },
      }),
    );

    await deliverOutbound(job, 1, "q-wa-template");

    const [request] = await fakeWhatsApp.requests(to);
    expect(request?.body).toEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to,
      type: "template",
      template: {
        name: "bill_ready",
        language: { code: "en_GB" },
        components: [
          {
            type: "body",
            parameters: [
              { type: "text", text: "Ada" },
              { type: "text", text: "₦12,500" },
              { type: "text", text: "1 May" },
            ],
          },
        ],
      },
    });
    const [accepted] = await fakeWhatsApp.messages(to);
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", providerMessageId: accepted?.id });
  });

  it("sends a template without variables in en_US and without a body component", async () => {
    const to = "447700900103";
    const { message, job } = await heldMessage(whatsApp({ recipient: `+${to}`, template: "hello_world" }));

    await deliverOutbound(job, 1, "q-wa-template-plain");

    const [request] = await fakeWhatsApp.requests(to);
    expect(request?.body).toMatchObject({ type: "template", template: { name: "hello_world", language: { code: "en_US" } } });
    expect(request?.body).not.toHaveProperty("template.components");
    expect(await messageRow(message.id)).toMatchObject({ status: "sent" });
  });

  it("sends a media URL as an image with the body as its caption", async () => {
    const to = "447700900104";
    const { message, job } = await heldMessage(
      whatsApp({ recipient: `+${to}`, body: "Your receipt", media: { url: "https://files.billx.test/receipts/r-1.png" } }),
    );

    await deliverOutbound(job, 1, "q-wa-image");

    const [request] = await fakeWhatsApp.requests(to);
    expect(request?.body).toEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to,
      type: "image",
      image: { link: "https://files.billx.test/receipts/r-1.png", caption: "Your receipt" },
    });
    expect(await messageRow(message.id)).toMatchObject({ status: "sent" });
  });

  it("retries three 500s and sends the message exactly once on the fourth attempt", async () => {
    const to = "447700900105";
    const { message, job } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "Payment received, thank you" }));
    const unknownError = graphErrorBody(131000, "(#131000) Something went wrong", "Something went wrong");
    await fakeWhatsApp.fail(
      to,
      [1, 2, 3].map(() => ({ status: 500, body: unknownError })),
    );

    for (const attempt of [1, 2, 3]) {
      const result = await deliverOutbound(job, attempt, "q-wa-flaky");
      expect(result.retryMessages).toEqual([{ msgId: "q-wa-flaky" }]);
      expect(result.explicitAcks).toEqual([]);
      expect(await messageRow(message.id)).toMatchObject({
        status: "queued",
        attempts: attempt,
        lastError: "whatsapp: (#131000) Something went wrong: Something went wrong",
      });
    }
    const last = await deliverOutbound(job, 4, "q-wa-flaky");
    expect(last.explicitAcks).toEqual(["q-wa-flaky"]);

    expect(await fakeWhatsApp.requests(to)).toHaveLength(4);
    const accepted = await fakeWhatsApp.messages(to);
    expect(accepted).toHaveLength(1);
    const rows = await testCtx()
      .db.select()
      .from(messages)
      .where(eq(messages.recipient, `+${to}`));
    expect(rows).toMatchObject([{ id: message.id, status: "sent", providerMessageId: accepted[0]?.id, attempts: 4, lastError: null }]);
  });

  it("marks the message failed with Meta's reason when the recipient is refused, and never retries", async () => {
    const to = "447700900106";
    const { message, job } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "hello" }));
    await fakeWhatsApp.fail(to, [
      {
        status: 400,
        body: graphErrorBody(
          131030,
          "(#131030) Recipient phone number not in allowed list",
          "Recipient phone number not in allowed list: Add recipient phone number to recipient list and try again.",
        ),
      },
    ]);

    const result = await deliverOutbound(job, 1, "q-wa-refused");

    expect(result.explicitAcks).toEqual(["q-wa-refused"]);
    expect(result.retryMessages).toEqual([]);
    expect(await messageRow(message.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      providerMessageId: null,
      lastError:
        "whatsapp: (#131030) Recipient phone number not in allowed list: Recipient phone number not in allowed list: Add recipient phone number to recipient list and try again.",
    });
    await deliverOutbound(job, 2, "q-wa-refused");
    expect(await fakeWhatsApp.requests(to)).toHaveLength(1);
    expect(await testCtx().db.select().from(deadLetters).where(eq(deadLetters.messageId, "q-wa-refused"))).toEqual([]);
  });

  it("marks the message failed when Meta rejects the access token", async () => {
    const to = "447700900107";
    const { message, job, env } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "hello" }), { WHATSAPP_ACCESS_TOKEN: "expired-token" });

    const result = await deliverOutbound(job, 1, "q-wa-bad-token", env);

    expect(result.retryMessages).toEqual([]);
    expect(await messageRow(message.id)).toMatchObject({ status: "failed", lastError: "whatsapp: Invalid OAuth access token - Cannot parse access token" });
    expect(await fakeWhatsApp.messages(to)).toEqual([]);
  });

  it("waits at least as long as Retry-After after a 429", async () => {
    const to = "447700900108";
    const { message, job } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "hello" }));
    await fakeWhatsApp.fail(to, [{ status: 429, body: graphErrorBody(4, "(#4) Application request limit reached"), headers: { "Retry-After": "120" } }]);

    const throttled = await deliverOutbound(job, 1, "q-wa-429");

    expect(throttled.retryMessages).toEqual([{ msgId: "q-wa-429" }]);
    expect(throttled.retryOptions).toHaveLength(1);
    expect(throttled.retryOptions[0]?.delaySeconds).toBeGreaterThanOrEqual(120);
    expect(await messageRow(message.id)).toMatchObject({ status: "queued", lastError: "whatsapp: (#4) Application request limit reached" });

    await deliverOutbound(job, 2, "q-wa-429");
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 2 });
  });

  it.each([
    [130429, "(#130429) Rate limit hit", "Message failed to send because there were too many messages sent from this phone number in a short period of time"],
    [
      131056,
      "(#131056) (Business Account, Consumer Account) pair rate limit hit",
      "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time",
    ],
  ])("retries Meta's rate limit %i even though it comes as HTTP 400", async (code, title, details) => {
    const to = `4477009002${String(code).slice(-2)}`;
    const { message, job } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "hello" }));
    await fakeWhatsApp.fail(to, [{ status: 400, body: graphErrorBody(code, title, details) }]);

    const throttled = await deliverOutbound(job, 1, `q-wa-${code}`);

    expect(throttled.retryMessages).toEqual([{ msgId: `q-wa-${code}` }]);
    expect(await messageRow(message.id)).toMatchObject({ status: "queued", lastError: `whatsapp: ${title}: ${details}` });
    await deliverOutbound(job, 2, `q-wa-${code}`);
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 2 });
    expect(await fakeWhatsApp.messages(to)).toHaveLength(1);
  });

  it("sends once when the same job is delivered twice, one after the other", async () => {
    const to = "447700900109";
    const { message, job } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "hello" }));

    const first = await deliverOutbound(job, 1, "q-wa-dup");
    const second = await deliverOutbound(job, 1, "q-wa-dup");

    expect(first.explicitAcks).toEqual(["q-wa-dup"]);
    expect(second.explicitAcks).toEqual(["q-wa-dup"]);
    expect(await fakeWhatsApp.requests(to)).toHaveLength(1);
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 1 });
  });

  it("sends once when the same job is delivered twice at the same time", async () => {
    const to = "447700900110";
    const { message, job } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "hello" }));

    const results = await Promise.all([deliverOutbound(job, 1, "q-wa-race"), deliverOutbound(job, 1, "q-wa-race")]);

    expect(results.map((r) => r.explicitAcks)).toEqual([["q-wa-race"], ["q-wa-race"]]);
    expect(await fakeWhatsApp.requests(to)).toHaveLength(1);
    const accepted = await fakeWhatsApp.messages(to);
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 1, providerMessageId: accepted[0]?.id });
  });

  it.each(["WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"] as const)("marks the message failed, naming %s, when it is not set", async (variable) => {
    const to = variable === "WHATSAPP_ACCESS_TOKEN" ? "447700900111" : "447700900112";
    const { message, job, ctx } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "hello" }), { [variable]: undefined });

    await deliverMessage(ctx, job, 1);

    expect(await messageRow(message.id)).toMatchObject({ status: "failed", attempts: 1, lastError: `${variable} is not set: whatsapp is not configured` });
    expect(await fakeWhatsApp.requests(to)).toEqual([]);
  });

  it("gives the message up as dead, with a dead letter, when the last attempt fails too", async () => {
    const to = "447700900113";
    const { message, job } = await heldMessage(whatsApp({ recipient: `+${to}`, body: "hello" }));
    await fakeWhatsApp.fail(to, [{ status: 503, body: graphErrorBody(2, "(#2) Service temporarily unavailable") }]);

    const result = await deliverOutbound(job, 6, "q-wa-last");

    expect(result.explicitAcks).toEqual(["q-wa-last"]);
    expect(await messageRow(message.id)).toMatchObject({ status: "dead", lastError: "whatsapp: (#2) Service temporarily unavailable" });
    const letters = await testCtx().db.select().from(deadLetters).where(eq(deadLetters.messageId, "q-wa-last"));
    expect(letters).toMatchObject([
      {
        queue: QUEUES.outbound,
        kind: "message.send",
        body: { kind: "message.send", messageId: message.id },
        attempts: 6,
        reason: "gave up after 6 attempts: whatsapp: (#2) Service temporarily unavailable",
      },
    ]);
  });
});
