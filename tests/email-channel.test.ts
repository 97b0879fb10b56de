import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messages } from "../src/db/schema";
import { createServiceCtx } from "../src/lib/service-ctx";
import { deliverMessage } from "../src/modules/messaging/outbound/consumer";
import { type SendInput, sendMessage } from "../src/modules/messaging/outbound/service";
import { resendEmail } from "../src/providers/resend";
import { call, signUp, uniqueEmail } from "./harness/api";
import { deliverOutbound, fakeResend, heldMessage, messageRow } from "./harness/fakes";
import { testCtx, testEnv } from "./harness/helpers";

function email(to: string, extra: Partial<SendInput> = {}): SendInput {
  return { orgId: null, channel: "email", recipient: to, subject: "Your invoice", body: "Hello,\nyour invoice is attached.", ...extra };
}

const serverError = { status: 500, body: { statusCode: 500, name: "internal_server_error", message: "An unexpected error occurred." } };

describe("email channel (Resend)", () => {
  it("delivers through the outbound queue with exactly the request Resend expects", async () => {
    const to = uniqueEmail("mail-shape");
    const { message } = await sendMessage(
      testCtx(),
      email(to, { subject: "Invoice <INV-7> & co", body: "Hello <b>Ada</b> & team,\nTotal: 5 > 3\n\n'Thanks'" }),
    );

    await expect.poll(async () => (await messageRow(message.id))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    const requests = await fakeResend.requests(to);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: "POST",
      path: "/emails",
      headers: { authorization: "Bearer re_test_key", "content-type": "application/json", "idempotency-key": message.id },
    });
    expect(requests[0]?.body).toEqual({
      from: "Billx <no-reply@billx.test>",
      to: [to],
      subject: "Invoice <INV-7> & co",
      text: "Hello <b>Ada</b> & team,\nTotal: 5 > 3\n\n'Thanks'",
      html: "<!doctype html><html><body><p>Hello &lt;b&gt;Ada&lt;/b&gt; &amp; team,<br>Total: 5 &gt; 3<br><br>&#39;Thanks&#39;</p></body></html>",
    });
    const inbox = await fakeResend.emails(to);
    expect(inbox).toHaveLength(1);
    expect(await messageRow(message.id)).toMatchObject({ providerMessageId: inbox[0]?.id, attempts: 1, lastError: null });
  });

  it('sends "(no subject)" when the message has none', async () => {
    const to = uniqueEmail("mail-nosubject");
    const { message } = await heldMessage(email(to, { subject: undefined }));

    const sent = await resendEmail(testCtx().config).send(message);

    expect(await fakeResend.emails(to)).toMatchObject([{ id: sent.providerMessageId, subject: "(no subject)" }]);
  });

  it("retries three server errors and records exactly one sent email after the fourth attempt", async () => {
    const to = uniqueEmail("mail-flaky");
    await fakeResend.fail(to, [serverError, serverError, serverError]);
    const { message, job } = await heldMessage(email(to));

    for (const attempt of [1, 2, 3]) {
      expect(await deliverOutbound(job, attempt)).toMatchObject({ retried: true, acked: false });
      expect(await messageRow(message.id)).toMatchObject({
        status: "queued",
        attempts: attempt,
        lastError: "resend: An unexpected error occurred. (internal_server_error)",
      });
    }
    expect(await deliverOutbound(job, 4)).toMatchObject({ acked: true, retried: false });

    const inbox = await fakeResend.emails(to);
    expect(inbox).toHaveLength(1);
    expect(await testCtx().db.select().from(messages).where(eq(messages.recipient, to))).toMatchObject([
      { id: message.id, status: "sent", providerMessageId: inbox[0]?.id, attempts: 4, lastError: null },
    ]);
    // Every attempt carried the same key, so Resend could have deduplicated any that got through.
    const requests = await fakeResend.requests(to);
    expect(requests.map((r) => r.headers["idempotency-key"])).toEqual([message.id, message.id, message.id, message.id]);
  });

  it("fails at once, with Resend's reason, when Resend refuses the email", async () => {
    const to = uniqueEmail("mail-refused");
    await fakeResend.fail(to, [{ status: 400, body: { statusCode: 400, name: "validation_error", message: "The `to` address is on the suppression list." } }]);
    const { message, job } = await heldMessage(email(to));

    expect(await deliverOutbound(job, 1)).toMatchObject({ acked: true, retried: false });
    expect(await messageRow(message.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      providerMessageId: null,
      lastError: "resend: The `to` address is on the suppression list. (validation_error)",
    });
    expect(await fakeResend.requests(to)).toHaveLength(1);
    expect(await fakeResend.emails(to)).toEqual([]);
  });

  it("fails with Resend's validation error when EMAIL_FROM is not an address", async () => {
    const to = uniqueEmail("mail-badfrom");
    const { message, job } = await heldMessage(email(to));

    await deliverMessage(
      createServiceCtx({ ...testEnv, EMAIL_FROM: "Billx billing" }, () => {}),
      job,
      1,
    );

    expect(await messageRow(message.id)).toMatchObject({
      status: "failed",
      lastError:
        "resend: Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format. (validation_error)",
    });
  });

  it("waits the Retry-After of a 429 instead of failing", async () => {
    const to = uniqueEmail("mail-429");
    await fakeResend.fail(to, [
      {
        status: 429,
        body: { statusCode: 429, name: "rate_limit_exceeded", message: "Too many requests. You can only make 2 requests per second." },
        headers: { "retry-after": "30", "ratelimit-limit": "2", "ratelimit-remaining": "0", "ratelimit-reset": "30" },
      },
    ]);
    const { message, job } = await heldMessage(email(to));

    // The first attempt's own backoff is at most 10 s; Resend's Retry-After wins.
    expect(await deliverOutbound(job, 1)).toMatchObject({ acked: false, retried: true, retryDelaySeconds: 30 });
    expect(await messageRow(message.id)).toMatchObject({ status: "queued", lastError: expect.stringContaining("(rate_limit_exceeded)") });

    expect(await deliverOutbound(job, 2)).toMatchObject({ acked: true });
    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 2 });
    expect(await fakeResend.emails(to)).toHaveLength(1);
  });

  it("sends once when the queue delivers the same job again", async () => {
    const to = uniqueEmail("mail-redelivered");
    const { message, job } = await heldMessage(email(to));

    expect(await deliverOutbound(job, 1)).toMatchObject({ acked: true });
    expect(await deliverOutbound(job, 1, "redelivered-copy")).toMatchObject({ acked: true, retried: false });

    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 1 });
    expect(await fakeResend.requests(to)).toHaveLength(1);
  });

  it("sends once when two consumers race on the same job", async () => {
    const to = uniqueEmail("mail-race");
    const { message, job } = await heldMessage(email(to));

    const results = await Promise.all([deliverOutbound(job, 1, "copy-a"), deliverOutbound(job, 1, "copy-b")]);
    expect(results.map((r) => r.acked)).toEqual([true, true]);

    expect(await messageRow(message.id)).toMatchObject({ status: "sent", attempts: 1 });
    expect(await fakeResend.requests(to)).toHaveLength(1);
    expect(await fakeResend.emails(to)).toHaveLength(1);
  });

  it("does not mail twice when a send is repeated after its reply was lost", async () => {
    const to = uniqueEmail("mail-idempotent");
    const { message } = await heldMessage(email(to));
    const sender = resendEmail(testCtx().config);

    // As after a timeout: we cannot know the first request got through, so the retry sends it again.
    const first = await sender.send(message);
    const second = await sender.send(message);

    expect(second.providerMessageId).toBe(first.providerMessageId);
    expect(await fakeResend.requests(to)).toHaveLength(2);
    expect(await fakeResend.emails(to)).toHaveLength(1);
    // The same key with another payload is refused for good, not retried.
    await expect(sender.send({ ...message, body: "something else" })).rejects.toMatchObject({
      status: 409,
      code: "invalid_idempotent_request",
      retryable: false,
    });
  });

  it("fails naming RESEND_API_KEY when email is not configured, and sends nothing", async () => {
    const to = uniqueEmail("mail-unconfigured");
    const { message, job } = await heldMessage(email(to));

    await deliverMessage(
      createServiceCtx({ ...testEnv, RESEND_API_KEY: undefined }, () => {}),
      job,
      1,
    );

    expect(await messageRow(message.id)).toMatchObject({ status: "failed", attempts: 1, lastError: "RESEND_API_KEY is not set: email is not configured" });
    expect(await fakeResend.requests(to)).toEqual([]);
  });

  it("fails with Resend's answer when the API key is wrong", async () => {
    const to = uniqueEmail("mail-badkey");
    const { message, job } = await heldMessage(email(to));

    await deliverMessage(
      createServiceCtx({ ...testEnv, RESEND_API_KEY: "re_revoked" }, () => {}),
      job,
      1,
    );

    expect(await messageRow(message.id)).toMatchObject({ status: "failed", lastError: "resend: API key is invalid (validation_error)" });
  });

  it("delivers the sign-in code to the person's mailbox, and that code signs them in", async () => {
    const account = await signUp("otp-mailbox");
    const sent = await call("/v1/auth/otp/send", { body: { email: account.user.email } });
    expect(sent.status).toBe(202);

    // The mailbox also holds the welcome from sign-up: the code is the mail with the code's subject.
    const codeMails = async () => (await fakeResend.emails(account.user.email)).filter((mail) => mail.subject === "Your Billx sign-in code");
    await expect.poll(async () => (await codeMails()).length, { timeout: 10_000, interval: 200 }).toBe(1);
    const [mail] = await codeMails();
    expect(mail).toMatchObject({ from: "Billx <no-reply@billx.test>", to: [account.user.email] });
    const code = /\b(\d{6})\b/.exec(mail?.text ?? "")?.[1];
    expect(code).toBeDefined();
    expect(mail?.html).toContain(code);

    const [message] = await testCtx()
      .db.select()
      .from(messages)
      .where(and(eq(messages.recipient, account.user.email), eq(messages.entityType, "otp")));
    await expect.poll(async () => (await messageRow(message!.id))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    expect((await messageRow(message!.id))?.providerMessageId).toBe(mail?.id);

    const verified = await call("/v1/auth/otp/verify", { body: { email: account.user.email, code } });
    expect(verified.status).toBe(200);
    expect(((await verified.json()) as { user: { id: string } }).user.id).toBe(account.user.id);
  });
});
