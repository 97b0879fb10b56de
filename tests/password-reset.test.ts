import { and, desc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, messages, passwordResetTokens, sessions } from "../src/db/schema";
import { call, signUp, uniqueEmail } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

const NEW_PASSWORD = "a-brand-new-secret-77";

// Reset emails only: the same address also gets its welcome email at sign-up.
const resetEmailsTo = (recipient: string) => and(eq(messages.recipient, recipient), eq(messages.entityType, "password_reset"));

function messagesTo(recipient: string) {
  return testCtx().db.select().from(messages).where(resetEmailsTo(recipient));
}

/** Asks for a reset link and returns the token from the link in the email, as the person would. */
async function requestResetToken(email: string): Promise<string> {
  const response = await call("/v1/auth/password-reset/request", { body: { email } });
  expect(response.status).toBe(202);
  const [message] = await testCtx().db.select().from(messages).where(resetEmailsTo(email)).orderBy(desc(messages.id)).limit(1);
  const link = /https:\/\/app\.billx\.test\/reset-password\?token=\S+/.exec(message?.body ?? "")?.[0];
  if (!link) throw new Error(`no reset link was sent to ${email}`);
  return new URL(link).searchParams.get("token") as string;
}

const confirm = (token: string, password = NEW_PASSWORD) => call("/v1/auth/password-reset/confirm", { body: { token, password } });
const signIn = (email: string, password: string) => call("/v1/auth/sign-in", { body: { email, password } });

describe("password reset", () => {
  it("sets a new password from the emailed link and signs out every session", async () => {
    const account = await signUp("reset");
    const token = await requestResetToken(account.user.email);

    const [message] = await messagesTo(account.user.email);
    expect(message).toMatchObject({ channel: "email", orgId: null, entityType: "password_reset", subject: "Reset your Billx password" });
    // Stored as a SHA-256 hash, not the token itself.
    const [row] = await testCtx().db.select().from(passwordResetTokens).where(eq(passwordResetTokens.id, message!.entityId!));
    expect(row?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.tokenHash).not.toBe(token);
    expect(row!.expiresAt.getTime() - row!.createdAt.getTime()).toBe(30 * 60 * 1000);

    const response = await confirm(token);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");

    await expectProblem(await signIn(account.user.email, account.password), 401);
    expect((await signIn(account.user.email, NEW_PASSWORD)).status).toBe(200);
    await expectProblem(await call("/v1/auth/me", { token: account.access_token }), 401);
    await expectProblem(await call("/v1/auth/refresh", { body: { refresh_token: account.refresh_token } }), 401);

    const [oldSession] = await testCtx().db.select().from(sessions).where(eq(sessions.userId, account.user.id)).orderBy(sessions.id).limit(1);
    expect(oldSession?.revokedReason).toBe("password_reset");
    const audited = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.targetId, account.user.id), eq(auditEvents.action, "user.password_reset")));
    expect(audited).toHaveLength(1);
  });

  it("accepts a reset link once", async () => {
    const account = await signUp("reset-once");
    const token = await requestResetToken(account.user.email);
    expect((await confirm(token)).status).toBe(204);
    const again = await expectProblem(await confirm(token, "another-fresh-secret-88"), 400);
    expect(again.detail).toBe("This password reset link has already been used; ask for a new one");
    // The first new password still stands.
    expect((await signIn(account.user.email, NEW_PASSWORD)).status).toBe(200);
  });

  it("lets only one of two racing confirms with one link change the password", async () => {
    const account = await signUp("reset-race");
    const token = await requestResetToken(account.user.email);
    const [a, b] = await Promise.all([confirm(token, "racing-password-one-1"), confirm(token, "racing-password-two-2")]);
    expect([a.status, b.status].sort()).toEqual([204, 400]);
    const winner = a.status === 204 ? "racing-password-one-1" : "racing-password-two-2";
    const loser = a.status === 204 ? "racing-password-two-2" : "racing-password-one-1";
    expect((await signIn(account.user.email, winner)).status).toBe(200);
    await expectProblem(await signIn(account.user.email, loser), 401);
  });

  it("answers an unknown email with the same 202 and sends nothing", async () => {
    const account = await signUp("reset-known");
    const nobody = uniqueEmail("reset-nobody");
    const known = await call("/v1/auth/password-reset/request", { body: { email: account.user.email } });
    const unknown = await call("/v1/auth/password-reset/request", { body: { email: nobody } });
    expect(unknown.status).toBe(202);
    expect(known.status).toBe(202);
    expect(await unknown.json()).toEqual(await known.json());
    expect(await messagesTo(nobody)).toHaveLength(0);
    expect(await messagesTo(account.user.email)).toHaveLength(1);
  });

  it("says why a new password is too weak, with 422 on password, and keeps the link usable", async () => {
    const account = await signUp("reset-weak");
    const token = await requestResetToken(account.user.email);
    const weak = await expectProblem(await confirm(token, "short1"), 422);
    expect(weak.errors).toEqual([{ path: "password", message: "Use at least 10 characters" }]);
    // Nothing changed: the old password and session still work, and the link can be retried.
    expect((await signIn(account.user.email, account.password)).status).toBe(200);
    expect((await call("/v1/auth/me", { token: account.access_token })).status).toBe(200);
    expect((await confirm(token)).status).toBe(204);
  });

  it("refuses an expired link and an unknown one, saying which", async () => {
    const account = await signUp("reset-expired");
    const token = await requestResetToken(account.user.email);
    await testCtx()
      .db.update(passwordResetTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(passwordResetTokens.userId, account.user.id));
    expect((await expectProblem(await confirm(token), 400)).detail).toBe("This password reset link has expired; ask for a new one");
    expect((await expectProblem(await confirm("made-up-token"), 400)).detail).toBe("This password reset link is not valid; ask for a new one");
    expect((await signIn(account.user.email, account.password)).status).toBe(200);
  });

  it("voids older links once the password was reset", async () => {
    const account = await signUp("reset-older");
    const older = await requestResetToken(account.user.email);
    const newer = await requestResetToken(account.user.email);
    expect((await confirm(newer)).status).toBe(204);
    await expectProblem(await confirm(older, "yet-another-secret-99"), 400);
    expect((await signIn(account.user.email, NEW_PASSWORD)).status).toBe(200);
  });

  it("sends at most 3 reset emails per account per 30 minutes, answering 202 all the same", async () => {
    const account = await signUp("reset-throttle");
    const statuses = await Promise.all(
      [1, 2, 3, 4].map(async () => (await call("/v1/auth/password-reset/request", { body: { email: account.user.email } })).status),
    );
    expect(statuses).toEqual([202, 202, 202, 202]);
    expect(await messagesTo(account.user.email)).toHaveLength(3);
  });
});
