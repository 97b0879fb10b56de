import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deadLetters, messages } from "../src/db/schema";
import { sendMessage } from "../src/modules/messaging/outbound/service";
import { deliverOutbound, fakeResend } from "./harness/fakes";
import { testCtx } from "./harness/helpers";

describe("messaging.send (the one way out)", () => {
  it("writes a queued row, and the outbound queue delivers it through the channel's provider", async () => {
    const ctx = testCtx();
    const { message, created } = await sendMessage(ctx, {
      orgId: null,
      channel: "email",
      recipient: "queue-smoke@example.com",
      subject: "Hi",
      body: "Hello",
      entity: { type: "test", id: "t1" },
    });
    expect(created).toBe(true);
    expect(message).toMatchObject({
      id: expect.stringMatching(/^msg_/),
      status: "queued",
      channel: "email",
      recipient: "queue-smoke@example.com",
      entityType: "test",
    });
    await expect
      .poll(async () => (await ctx.db.select().from(messages).where(eq(messages.id, message.id)))[0]?.status, { timeout: 10_000, interval: 200 })
      .toBe("sent");
    const [row] = await ctx.db.select().from(messages).where(eq(messages.id, message.id));
    expect(row).toMatchObject({ attempts: 1, lastError: null, providerMessageId: expect.any(String) });
    const emails = await fakeResend.emails("queue-smoke@example.com");
    expect(emails.map((e) => e.subject)).toEqual(["Hi"]);
  });

  it("returns the first message for a repeated idempotency key, even when racing", async () => {
    const ctx = testCtx();
    const send = () => sendMessage(ctx, { orgId: null, channel: "sms", recipient: "+14155550100", body: "code 123456", idempotencyKey: "otp-abc" });
    const results = await Promise.all([send(), send(), send()]);
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await ctx.db.select().from(messages).where(eq(messages.idempotencyKey, "otp-abc"))).toHaveLength(1);
  });

  it("refuses a recipient that does not fit the channel, naming the field", async () => {
    const ctx = testCtx();
    await expect(sendMessage(ctx, { orgId: null, channel: "sms", recipient: "0800-CALL-ME", body: "x" })).rejects.toMatchObject({
      status: 422,
      errors: [{ path: "recipient", message: "must be a phone number in E.164 form, e.g. +14155550100" }],
    });
    await expect(sendMessage(ctx, { orgId: null, channel: "telegram", recipient: "not a chat", body: "x" })).rejects.toMatchObject({ status: 422 });
  });
});

describe("a job that arrives before its message row is committed", () => {
  it("is retried while the row is not visible, and dead-lettered if it never appears", async () => {
    const job = { kind: "message.send", messageId: "msg_01NOTCOMMITTEDYET000000000" };
    const early = await deliverOutbound(job, 1, "early-delivery");
    expect(early).toMatchObject({ acked: false, retried: true });
    // Backoff has jitter; the wait for an uncommitted row is the floor.
    expect(early.retryDelaySeconds).toBeGreaterThanOrEqual(5);

    const last = await deliverOutbound(job, 6, "early-delivery");
    expect(last).toMatchObject({ acked: true, retried: false });
    const dead = await testCtx().db.select().from(deadLetters).where(eq(deadLetters.messageId, "early-delivery"));
    expect(dead).toMatchObject([{ kind: "message.send", reason: "message msg_01NOTCOMMITTEDYET000000000 does not exist" }]);
  });
});
