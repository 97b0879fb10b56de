import { and, desc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, messages, otpCodes, users } from "../src/db/schema";
import { call, expectJson, signUp, uniqueEmail } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

// Sign-in codes only: the same address also gets its welcome email at sign-up.
const codeMessagesTo = (recipient: string) => and(eq(messages.recipient, recipient), eq(messages.entityType, "otp"));

/** The code as the person receives it: read from the newest sign-in code message sent to `recipient`. */
async function receivedCode(recipient: string): Promise<string> {
  const [message] = await testCtx().db.select().from(messages).where(codeMessagesTo(recipient)).orderBy(desc(messages.id)).limit(1);
  const code = /\b(\d{6})\b/.exec(message?.body ?? "")?.[1];
  if (!code) throw new Error(`no code was sent to ${recipient}`);
  return code;
}

function messagesTo(recipient: string) {
  return testCtx().db.select().from(messages).where(codeMessagesTo(recipient));
}

const wrongCodeFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, "0");

async function sendCode(to: { email: string } | { phone: string }) {
  const response = await call("/v1/auth/otp/send", { body: to });
  expect(response.status).toBe(202);
  expect(await response.json()).toEqual({ status: "sent" });
}

let phoneCounter = 0;
const uniquePhone = () => `+1415555${String(Math.floor(Math.random() * 1000)).padStart(3, "0")}${++phoneCounter}`;

describe("sign-in codes (OTP)", () => {
  it("signs in with the code from the email and marks the email verified", async () => {
    const account = await signUp("otp");
    await sendCode({ email: account.user.email.toUpperCase() });

    const [message] = await messagesTo(account.user.email);
    expect(message).toMatchObject({ channel: "email", orgId: null, entityType: "otp", subject: "Your Billx sign-in code" });
    const code = await receivedCode(account.user.email);
    // Stored hashed, never as the digits themselves.
    const [row] = await testCtx().db.select().from(otpCodes).where(eq(otpCodes.id, message!.entityId!));
    expect(row?.codeHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.codeHash).not.toContain(code);

    const response = await call("/v1/auth/otp/verify", { body: { email: account.user.email, code } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { user: { id: string }; access_token: string; refresh_token: string; token_type: string; expires_in: number };
    expect(body).toMatchObject({ user: { id: account.user.id, email: account.user.email, name: account.user.name }, token_type: "Bearer", expires_in: 900 });
    expect(body.refresh_token).toMatch(/^rt_/);
    expect((await call("/v1/auth/me", { token: body.access_token })).status).toBe(200);

    const [user] = await testCtx().db.select().from(users).where(eq(users.id, account.user.id));
    expect(user?.emailVerifiedAt).toBeInstanceOf(Date);
    const signIns = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.actorUserId, account.user.id), eq(auditEvents.action, "user.signed_in")));
    expect(signIns.map((e) => e.metadata)).toContainEqual({ method: "otp", channel: "email" });
  });

  it("signs in with a code sent by SMS to the account's phone", async () => {
    const account = await signUp("otp-sms");
    const phone = uniquePhone();
    await testCtx().db.update(users).set({ phone }).where(eq(users.id, account.user.id));
    await sendCode({ phone });

    const [message] = await messagesTo(phone);
    expect(message).toMatchObject({ channel: "sms", entityType: "otp" });
    const response = await call("/v1/auth/otp/verify", { body: { phone, code: await receivedCode(phone) } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { user: { id: string } }).user.id).toBe(account.user.id);
    // An SMS proves the phone, not the mailbox.
    const [user] = await testCtx().db.select().from(users).where(eq(users.id, account.user.id));
    expect(user?.emailVerifiedAt).toBeNull();
  });

  it("answers an unknown recipient exactly like a known one, and sends it nothing", async () => {
    const account = await signUp("otp-known");
    const nobody = uniqueEmail("otp-nobody");
    const known = await call("/v1/auth/otp/send", { body: { email: account.user.email } });
    const unknown = await call("/v1/auth/otp/send", { body: { email: nobody } });
    expect(unknown.status).toBe(known.status);
    expect(unknown.status).toBe(202);
    expect(await unknown.json()).toEqual(await known.json());
    expect(await messagesTo(account.user.email)).toHaveLength(1);
    expect(await messagesTo(nobody)).toHaveLength(0);

    // Verifying for an unknown recipient fails like a wrong code does.
    const wrong = await expectProblem(
      await call("/v1/auth/otp/verify", { body: { email: account.user.email, code: wrongCodeFor(await receivedCode(account.user.email)) } }),
      401,
    );
    const stranger = await expectProblem(await call("/v1/auth/otp/verify", { body: { email: nobody, code: "123456" } }), 401);
    expect({ ...stranger, request_id: "" }).toEqual({ ...wrong, request_id: "" });
  });

  it("refuses an expired code", async () => {
    const account = await signUp("otp-expired");
    await sendCode({ email: account.user.email });
    const code = await receivedCode(account.user.email);
    await testCtx()
      .db.update(otpCodes)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(otpCodes.recipient, account.user.email.toLowerCase()));

    const body = await expectProblem(await call("/v1/auth/otp/verify", { body: { email: account.user.email, code } }), 401);
    expect(body.detail).toBe("The code is wrong, expired or already used");
  });

  it("refuses a code the second time", async () => {
    const account = await signUp("otp-reuse");
    await sendCode({ email: account.user.email });
    const code = await receivedCode(account.user.email);
    expect((await call("/v1/auth/otp/verify", { body: { email: account.user.email, code } })).status).toBe(200);
    await expectProblem(await call("/v1/auth/otp/verify", { body: { email: account.user.email, code } }), 401);
  });

  it("kills a code after 5 tries: the right code on the 6th try is refused", async () => {
    const account = await signUp("otp-lockout");
    await sendCode({ email: account.user.email });
    const code = await receivedCode(account.user.email);
    for (let i = 0; i < 5; i++) {
      await expectProblem(await call("/v1/auth/otp/verify", { body: { email: account.user.email, code: wrongCodeFor(code) } }), 401);
    }
    await expectProblem(await call("/v1/auth/otp/verify", { body: { email: account.user.email, code } }), 401);

    const [row] = await testCtx().db.select().from(otpCodes).where(eq(otpCodes.recipient, account.user.email.toLowerCase()));
    expect(row).toMatchObject({ attempts: 5, consumedAt: null });
    const failures = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.actorUserId, account.user.id), eq(auditEvents.action, "user.sign_in_failed")));
    expect(failures).toHaveLength(6);
  });

  it("signs in only one of two racing verifies of one code", async () => {
    const account = await signUp("otp-race");
    await sendCode({ email: account.user.email });
    const code = await receivedCode(account.user.email);
    const results = await Promise.all([1, 2, 3].map(() => call("/v1/auth/otp/verify", { body: { email: account.user.email, code } })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401]);
  });

  it("sends at most 3 codes per recipient per 10 minutes, answering 202 all the same", async () => {
    const account = await signUp("otp-throttle");
    const statuses = await Promise.all([1, 2, 3, 4, 5].map(async () => (await call("/v1/auth/otp/send", { body: { email: account.user.email } })).status));
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    expect(await messagesTo(account.user.email)).toHaveLength(3);
  });

  it("only accepts the newest code once a new one was sent", async () => {
    const account = await signUp("otp-newest");
    await sendCode({ email: account.user.email });
    const first = await receivedCode(account.user.email);
    await sendCode({ email: account.user.email });
    const second = await receivedCode(account.user.email);
    if (first !== second) await expectProblem(await call("/v1/auth/otp/verify", { body: { email: account.user.email, code: first } }), 401);
    expect((await call("/v1/auth/otp/verify", { body: { email: account.user.email, code: second } })).status).toBe(200);
  });

  it("asks for exactly one of email or phone, and a 6-digit code", async () => {
    const neither = await expectProblem(await call("/v1/auth/otp/send", { body: {} }), 422);
    expect(neither.errors).toEqual([{ path: "(root)", message: "Send exactly one of email or phone" }]);
    await expectProblem(await call("/v1/auth/otp/send", { body: { email: uniqueEmail(), phone: "+14155550100" } }), 422);
    const badPhone = await expectProblem(await call("/v1/auth/otp/send", { body: { phone: "0800 123 456" } }), 422);
    expect(badPhone.errors?.[0]?.path).toBe("phone");
    const shortCode = await expectProblem(await call("/v1/auth/otp/verify", { body: { email: uniqueEmail(), code: "12345" } }), 422);
    expect(shortCode.errors).toEqual([{ path: "code", message: "The code has 6 digits" }]);
  });
});

describe("a user's own phone number", () => {
  const addPhone = (token: string, phone: string) => call("/v1/users/me/phone", { token, body: { phone } });
  const verifyPhone = (token: string, phone: string, code: string) => call("/v1/users/me/phone/verify", { token, body: { phone, code } });
  const phoneOf = async (userId: string) => (await testCtx().db.select({ phone: users.phone }).from(users).where(eq(users.id, userId)))[0]?.phone;

  it("is saved only once the texted code comes back, and then takes SMS sign-in codes", async () => {
    const account = await signUp("phone-add");
    const phone = uniquePhone();
    expect(await expectJson(await addPhone(account.access_token, ` ${phone} `), 202)).toEqual({ status: "sent", phone, expires_in_minutes: 10 });
    const [text] = await messagesTo(phone);
    expect(text).toMatchObject({ channel: "sms", orgId: null });
    expect(text?.body).toContain("add this number to your account");
    expect(await phoneOf(account.user.id)).toBeNull();

    const code = await receivedCode(phone);
    const wrong = await expectProblem(await verifyPhone(account.access_token, phone, wrongCodeFor(code)), 422);
    expect(wrong.errors).toEqual([expect.objectContaining({ path: "code" })]);
    expect(await expectJson(await verifyPhone(account.access_token, phone, code), 200)).toEqual({
      id: account.user.id,
      email: account.user.email,
      name: account.user.name,
      phone,
    });
    expect(await phoneOf(account.user.id)).toBe(phone);
    // Spent: the same code adds nothing twice.
    await expectProblem(await verifyPhone(account.access_token, phone, code), 422);
    // The audit records the change, never the number.
    const audits = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.targetId, account.user.id), eq(auditEvents.action, "user.phone_verified")));
    expect(audits).toHaveLength(1);
    expect(JSON.stringify(audits)).not.toContain(phone);

    await sendCode({ phone });
    const signedIn = await expectJson<{ user: { id: string } }>(await call("/v1/auth/otp/verify", { body: { phone, code: await receivedCode(phone) } }), 200);
    expect(signedIn.user.id).toBe(account.user.id);

    expect((await call("/v1/users/me/phone", { method: "DELETE", token: account.access_token })).status).toBe(204);
    expect(await phoneOf(account.user.id)).toBeNull();
  });

  it("never lets a code for one purpose answer for the other, nor one user take another's number", async () => {
    const owner = await signUp("phone-owner");
    const phone = uniquePhone();
    await testCtx().db.update(users).set({ phone }).where(eq(users.id, owner.user.id));
    await sendCode({ phone });
    const signInCode = await receivedCode(phone);

    const intruder = await signUp("phone-intruder");
    // The intruder cannot add the number with the owner's sign-in code...
    await expectProblem(await verifyPhone(intruder.access_token, phone, signInCode), 422);
    await expectJson(await addPhone(intruder.access_token, phone), 202);
    const addCode = await receivedCode(phone);
    // ...nor sign in as the owner with a code meant for adding the number.
    await expectProblem(await call("/v1/auth/otp/verify", { body: { phone, code: addCode } }), 401);
    // Only the phone's holder sees the add code, and learns the number is taken.
    await expectProblem(await verifyPhone(intruder.access_token, phone, addCode), 409);
    expect(await phoneOf(owner.user.id)).toBe(phone);
    expect(await phoneOf(intruder.user.id)).toBeNull();
    // The add code superseded nothing: the owner's sign-in code still works.
    expect((await call("/v1/auth/otp/verify", { body: { phone, code: signInCode } })).status).toBe(200);
  });

  it("gives a number to one of two users confirming it at once", async () => {
    const phone = uniquePhone();
    const racers = await Promise.all([signUp("phone-race-a"), signUp("phone-race-b")]);
    const codes: string[] = [];
    for (const racer of racers) {
      await expectJson(await addPhone(racer.access_token, phone), 202);
      codes.push(await receivedCode(phone));
    }
    const statuses = await Promise.all(racers.map((racer, i) => verifyPhone(racer.access_token, phone, codes[i] as string).then((r) => r.status)));
    expect(statuses.sort()).toEqual([200, 409]);
    const holders = await testCtx().db.select({ id: users.id }).from(users).where(eq(users.phone, phone));
    expect(holders).toHaveLength(1);
  });

  it("refuses API keys, bad numbers and a fourth code in ten minutes", async () => {
    const account = await signUp("phone-bad");
    const key = await expectJson<{ key: string }>(await call("/v1/api-keys", { token: account.access_token, body: { name: "phone" } }), 201);
    await expectProblem(await addPhone(key.key, uniquePhone()), 403);
    for (const bad of ["4155550100", "+1 415 555 0100", "+1415555\u0000", "+".padEnd(5000, "9")]) {
      const problem = await expectProblem(await addPhone(account.access_token, bad), 422);
      expect(problem.errors?.[0]?.path).toBe("phone");
    }
    await expectProblem(await call("/v1/users/me/phone", { token: account.access_token, body: { phone: uniquePhone(), extra: 1 } }), 422);
    await expectProblem(await verifyPhone(account.access_token, uniquePhone(), "12ab56"), 422);

    const phone = uniquePhone();
    for (let i = 0; i < 3; i++) await expectJson(await addPhone(account.access_token, phone), 202);
    const throttled = await addPhone(account.access_token, phone);
    await expectProblem(throttled, 429);
    expect(throttled.headers.get("retry-after")).toBe("600");
    expect(await messagesTo(phone)).toHaveLength(3);
  });
});
