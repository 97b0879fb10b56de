import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messages } from "../src/db/schema";
import { createServiceCtx } from "../src/lib/service-ctx";
import { deliverMessage } from "../src/modules/messaging/outbound/consumer";
import { type SendInput, sendMessage } from "../src/modules/messaging/outbound/service";
import { ProviderError } from "../src/providers/errors";
import { sendChatAction } from "../src/providers/telegram";
import { RetryLater } from "../src/queues/jobs";
import { deliverOutbound, fakeTelegram, heldMessage, messageRow } from "./harness/fakes";
import { testCtx, testEnv } from "./harness/helpers";

const BOT_PATH = "/bot123456:TEST-token";

/** A chat no other test (in any file) uses: the fake keeps its requests per chat. */
function uniqueChat(): string {
  return String(5_000_000_000 + Math.floor(Math.random() * 4_000_000_000));
}

function telegramMessage(chatId: string, extra: Partial<SendInput> = {}): SendInput {
  return { orgId: null, channel: "telegram", recipient: chatId, body: "Your bill BX-1042 is ready.", ...extra };
}

const serverError = { status: 500, body: { ok: false, error_code: 500, description: "Internal Server Error" } };

describe("Telegram channel", () => {
  it("delivers a text through the outbound queue with exactly the request the Bot API expects", async () => {
    const chat = uniqueChat();
    const { message } = await sendMessage(testCtx(), telegramMessage(chat));

    await expect.poll(async () => (await messageRow(message.id))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    expect(await messageRow(message.id)).toMatchObject({ providerMessageId: `${chat}:1`, attempts: 1, lastError: null });
    const requests = await fakeTelegram.requests(chat);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", path: `${BOT_PATH}/sendMessage`, headers: { "content-type": "application/json" } });
    // Plain text needs no parse mode, so nothing in the body can be misread as markup.
    expect(requests[0]?.body).toEqual({ chat_id: chat, text: "Your bill BX-1042 is ready." });
  });

  it("puts the subject in bold above the body and escapes HTML in both", async () => {
    const chat = uniqueChat();
    const { message } = await sendMessage(
      testCtx(),
      telegramMessage(chat, { subject: 'Bill <#42> & "fees"', body: "Total < 5 & > 3\n<script>alert(1)</script>" }),
    );

    await expect.poll(async () => (await messageRow(message.id))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    const [request] = await fakeTelegram.requests(chat);
    expect(request?.body).toEqual({
      chat_id: chat,
      text: "<b>Bill &lt;#42&gt; &amp; &quot;fees&quot;</b>\nTotal &lt; 5 &amp; &gt; 3\n&lt;script&gt;alert(1)&lt;/script&gt;",
      parse_mode: "HTML",
    });
  });

  it("sends a photo with the body as its caption when the message carries a media URL", async () => {
    const chat = uniqueChat();
    const { message } = await sendMessage(
      testCtx(),
      telegramMessage(chat, { body: "This week only: 20% off", media: { url: "https://cdn.billx.test/banners/promo.png", contentType: "image/png" } }),
    );

    await expect.poll(async () => (await messageRow(message.id))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    expect((await messageRow(message.id))?.providerMessageId).toBe(`${chat}:1`);
    const requests = await fakeTelegram.requests(chat);
    expect(requests.map((r) => [r.path, r.body])).toEqual([
      [`${BOT_PATH}/sendPhoto`, { chat_id: chat, photo: "https://cdn.billx.test/banners/promo.png", caption: "This week only: 20% off" }],
    ]);
  });

  it("retries three server errors and records exactly one sent message after the fourth attempt", async () => {
    const chat = uniqueChat();
    await fakeTelegram.fail(chat, [serverError, serverError, serverError]);
    const { message, job } = await heldMessage(telegramMessage(chat));

    for (const attempt of [1, 2, 3]) {
      expect(await deliverOutbound(job, attempt)).toMatchObject({ retried: true, acked: false });
      expect(await messageRow(message.id)).toMatchObject({ status: "queued", attempts: attempt, lastError: "telegram: Internal Server Error" });
    }
    expect(await deliverOutbound(job, 4)).toMatchObject({ acked: true, retried: false });

    expect(await testCtx().db.select().from(messages).where(eq(messages.recipient, chat))).toMatchObject([
      { id: message.id, status: "sent", providerMessageId: `${chat}:1`, attempts: 4, lastError: null },
    ]);
    expect(await fakeTelegram.requests(chat)).toHaveLength(4);
  });

  it("fails at once, with Telegram's reason, when the chat does not exist", async () => {
    const chat = uniqueChat();
    await fakeTelegram.markUnknown(chat);
    const { message, job } = await heldMessage(telegramMessage(chat));

    expect(await deliverOutbound(job, 1)).toMatchObject({ acked: true, retried: false });
    expect(await messageRow(message.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: "telegram: Bad Request: chat not found",
      providerMessageId: null,
    });
    expect(await fakeTelegram.requests(chat)).toHaveLength(1);
  });

  it("waits the retry_after Telegram puts in a 429 body instead of failing", async () => {
    const chat = uniqueChat();
    await fakeTelegram.fail(chat, [
      { status: 429, body: { ok: false, error_code: 429, description: "Too Many Requests: retry after 30", parameters: { retry_after: 30 } } },
    ]);
    const { message, job } = await heldMessage(telegramMessage(chat));

    // The first attempt's own backoff is at most 10 s; the flood-control wait wins.
    expect(await deliverOutbound(job, 1)).toMatchObject({ acked: false, retried: true, retryDelaySeconds: 30 });
    expect(await messageRow(message.id)).toMatchObject({ status: "queued", lastError: "telegram: Too Many Requests: retry after 30" });

    expect(await deliverOutbound(job, 2)).toMatchObject({ acked: true });
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 2, providerMessageId: `${chat}:1` });
  });

  it("sends once when the queue delivers the same job again", async () => {
    const chat = uniqueChat();
    const { message, job } = await heldMessage(telegramMessage(chat));

    expect(await deliverOutbound(job, 1)).toMatchObject({ acked: true });
    expect(await deliverOutbound(job, 1, "redelivered-copy")).toMatchObject({ acked: true, retried: false });

    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 1, providerMessageId: `${chat}:1` });
    expect(await fakeTelegram.requests(chat)).toHaveLength(1);
  });

  it("sends once when two consumers race on the same job", async () => {
    const chat = uniqueChat();
    const { message, job } = await heldMessage(telegramMessage(chat));

    const results = await Promise.all([deliverOutbound(job, 1, "copy-a"), deliverOutbound(job, 1, "copy-b")]);
    expect(results.map((r) => r.acked)).toEqual([true, true]);

    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 1, providerMessageId: `${chat}:1` });
    expect(await fakeTelegram.requests(chat)).toHaveLength(1);
  });

  it("fails naming TELEGRAM_BOT_TOKEN when the bot is not configured, and sends nothing", async () => {
    const chat = uniqueChat();
    const { message, job } = await heldMessage(telegramMessage(chat));
    const unconfigured = createServiceCtx({ ...testEnv, TELEGRAM_BOT_TOKEN: undefined }, () => {});

    await deliverMessage(unconfigured, job, 1);

    expect(await messageRow(message.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: "TELEGRAM_BOT_TOKEN is not set: telegram is not configured",
    });
    expect(await fakeTelegram.requests(chat)).toEqual([]);
  });

  it("fails with Telegram's 401 when the bot token is wrong", async () => {
    const chat = uniqueChat();
    const { message, job } = await heldMessage(telegramMessage(chat));
    const wrongBot = createServiceCtx({ ...testEnv, TELEGRAM_BOT_TOKEN: "654321:revoked-token" }, () => {});

    await deliverMessage(wrongBot, job, 1);

    expect(await messageRow(message.id)).toMatchObject({ status: "failed", lastError: "telegram: Unauthorized" });
  });

  it("retries when Telegram cannot be reached, and never writes the bot token into the error", async () => {
    const chat = uniqueChat();
    const { message, job } = await heldMessage(telegramMessage(chat));
    const unreachable = createServiceCtx({ ...testEnv, TELEGRAM_BASE_URL: "http://127.0.0.1:1" }, () => {});

    await expect(deliverMessage(unreachable, job, 1)).rejects.toBeInstanceOf(RetryLater);

    const after = await messageRow(message.id);
    expect(after).toMatchObject({ status: "queued", attempts: 1 });
    expect(after?.lastError).toMatch(/^telegram: request failed/);
    expect(after?.lastError).not.toContain("TEST-token");
  });

  it("shows the typing indicator with sendChatAction", async () => {
    const chat = uniqueChat();
    const config = testCtx().config;

    await sendChatAction(config, chat, "typing");

    const requests = await fakeTelegram.requests(chat);
    expect(requests.map((r) => [r.method, r.path, r.body])).toEqual([["POST", `${BOT_PATH}/sendChatAction`, { chat_id: chat, action: "typing" }]]);
    await fakeTelegram.markUnknown(chat);
    await expect(sendChatAction(config, chat, "typing")).rejects.toMatchObject({
      status: 400,
      retryable: false,
      message: "telegram: Bad Request: chat not found",
    });
    await expect(sendChatAction(config, chat, "typing")).rejects.toBeInstanceOf(ProviderError);
  });
});
