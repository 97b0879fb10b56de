import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, sessions } from "../src/db/schema";
import { call, GOOD_PASSWORD, signUp, uniqueEmail } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

describe("sign-up", () => {
  it("creates the user, their own organisation as owner, and returns tokens", async () => {
    const email = uniqueEmail("ada");
    const response = await call("/v1/auth/sign-up", { body: { email, password: GOOD_PASSWORD, name: "Ada Lovelace" } });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ user: { id: expect.stringMatching(/^usr_/), email, name: "Ada Lovelace" }, token_type: "Bearer", expires_in: 900 });
    expect(body.refresh_token).toMatch(/^rt_/);

    const me = await call("/v1/auth/me", { token: body.access_token as string });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({
      user: { id: (body.user as { id: string }).id, email, name: "Ada Lovelace", is_super_admin: false },
      orgs: [{ id: expect.stringMatching(/^org_/), name: "Ada Lovelace's organisation", role: "owner" }],
    });
  });

  it("refuses a second account with the same email, whatever its case, with 409", async () => {
    const email = uniqueEmail("dup");
    expect((await call("/v1/auth/sign-up", { body: { email, password: GOOD_PASSWORD, name: "A" } })).status).toBe(201);
    const again = await call("/v1/auth/sign-up", { body: { email: email.toUpperCase(), password: GOOD_PASSWORD, name: "B" } });
    expect((await expectProblem(again, 409)).detail).toBe("An account with this email already exists");
  });

  it("lets exactly one of two racing sign-ups with one email win", async () => {
    const email = uniqueEmail("race");
    const attempts = await Promise.all([1, 2, 3].map((n) => call("/v1/auth/sign-up", { body: { email, password: GOOD_PASSWORD, name: `R${n}` } })));
    expect(attempts.map((r) => r.status).sort()).toEqual([201, 409, 409]);
  });

  it("says why a password is too weak, with 422 on the password field", async () => {
    const response = await call("/v1/auth/sign-up", { body: { email: uniqueEmail(), password: "short1", name: "W" } });
    const body = await expectProblem(response, 422);
    expect(body.errors).toEqual([{ path: "password", message: "Use at least 10 characters" }]);
    const lettersOnly = await call("/v1/auth/sign-up", { body: { email: uniqueEmail(), password: "onlyletterss", name: "W" } });
    expect((await expectProblem(lettersOnly, 422)).errors?.[0]?.message).toMatch(/Mix letters/);
  });

  it("answers 422 with every failing field path", async () => {
    const response = await call("/v1/auth/sign-up", { body: { email: "not-an-email", password: GOOD_PASSWORD } });
    const body = await expectProblem(response, 422);
    expect(body.errors?.map((e) => e.path).sort()).toEqual(["email", "name"]);
    expect(body.errors?.find((e) => e.path === "email")?.message).toBe("Enter a valid email address");
  });

  it("answers malformed JSON with 400 problem+json", async () => {
    const response = await call("/v1/auth/sign-up", { body: '{"email": "a@b.c",', headers: { "Content-Type": "application/json" } });
    await expectProblem(response, 400);
  });
});

describe("sign-in", () => {
  it("returns a fresh token pair for the right password", async () => {
    const account = await signUp("signin");
    const response = await call("/v1/auth/sign-in", { body: { email: account.user.email, password: account.password } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; user: { id: string } };
    expect(body.user.id).toBe(account.user.id);
    expect((await call("/v1/auth/me", { token: body.access_token })).status).toBe(200);
  });

  it("answers a wrong password and an unknown email with the same 401, and audits the failure", async () => {
    const account = await signUp("wrongpw");
    const wrong = await call("/v1/auth/sign-in", { body: { email: account.user.email, password: "not-the-password-1" } });
    const unknown = await call("/v1/auth/sign-in", { body: { email: uniqueEmail("nobody"), password: "not-the-password-1" } });
    const [a, b] = [await expectProblem(wrong, 401), await expectProblem(unknown, 401)];
    expect({ ...a, request_id: "" }).toEqual({ ...b, request_id: "" });
    const failures = await testCtx().db.select().from(auditEvents).where(eq(auditEvents.actorUserId, account.user.id));
    expect(failures.map((e) => e.action)).toContain("user.sign_in_failed");
  });
});

describe("refresh tokens", () => {
  it("rotate on every use: the new one works, the old one does not", async () => {
    const account = await signUp("rotate");
    const first = await call("/v1/auth/refresh", { body: { refresh_token: account.refresh_token } });
    expect(first.status).toBe(200);
    const pair = (await first.json()) as { access_token: string; refresh_token: string };
    expect(pair.refresh_token).not.toBe(account.refresh_token);
    expect((await call("/v1/auth/me", { token: pair.access_token })).status).toBe(200);
    const second = await call("/v1/auth/refresh", { body: { refresh_token: pair.refresh_token } });
    expect(second.status).toBe(200);
  });

  it("revoke the whole family when a used token comes back", async () => {
    const account = await signUp("reuse");
    const rotated = (await (await call("/v1/auth/refresh", { body: { refresh_token: account.refresh_token } })).json()) as {
      access_token: string;
      refresh_token: string;
    };
    // The stolen original is replayed: refused, and the session it belongs to ends.
    await expectProblem(await call("/v1/auth/refresh", { body: { refresh_token: account.refresh_token } }), 401);
    await expectProblem(await call("/v1/auth/refresh", { body: { refresh_token: rotated.refresh_token } }), 401);
    await expectProblem(await call("/v1/auth/me", { token: rotated.access_token }), 401);
    const [session] = await testCtx().db.select().from(sessions).where(eq(sessions.userId, account.user.id));
    expect(session?.revokedReason).toBe("refresh_token_reused");
  });

  it("let only one of two racing refreshes with one token succeed, then end the family", async () => {
    const account = await signUp("refresh-race");
    const results = await Promise.all([1, 2].map(() => call("/v1/auth/refresh", { body: { refresh_token: account.refresh_token } })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    // The loser presented a used token: reuse detection revokes the family, winner's pair included.
    const winner = (await results.find((r) => r.status === 200)!.json()) as { access_token: string };
    await expectProblem(await call("/v1/auth/me", { token: winner.access_token }), 401);
  });

  it("refuse an unknown token with 401", async () => {
    await expectProblem(await call("/v1/auth/refresh", { body: { refresh_token: "rt_made-up" } }), 401);
  });
});

describe("logout", () => {
  it("revokes the access token and its refresh family", async () => {
    const account = await signUp("logout");
    const response = await call("/v1/auth/logout", { method: "POST", token: account.access_token });
    expect(response.status).toBe(204);
    await expectProblem(await call("/v1/auth/me", { token: account.access_token }), 401);
    await expectProblem(await call("/v1/auth/refresh", { body: { refresh_token: account.refresh_token } }), 401);
  });

  it("leaves the user's other sessions alone", async () => {
    const account = await signUp("two-devices");
    const other = (await (await call("/v1/auth/sign-in", { body: { email: account.user.email, password: account.password } })).json()) as {
      access_token: string;
    };
    await call("/v1/auth/logout", { method: "POST", token: account.access_token });
    expect((await call("/v1/auth/me", { token: other.access_token })).status).toBe(200);
  });
});

describe("authentication errors", () => {
  it("asks for a bearer credential when there is none", async () => {
    const response = await call("/v1/auth/me");
    await expectProblem(response, 401);
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("publishes the public signing key without its private part", async () => {
    const response = await call("/.well-known/jwks.json");
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: Record<string, string>[] };
    expect(keys).toEqual([{ kty: "EC", crv: "P-256", x: expect.any(String), y: expect.any(String), kid: "test-key-1", alg: "ES256", use: "sig" }]);
  });
});

describe("rate limits", () => {
  it("answers 429 with Retry-After once an IP exceeds the auth limit", async () => {
    const ip = "fd00:ffff::429";
    // The limiter counts in fixed one-minute windows: a burst sent at once stays inside one, unless
    // it starts in the window's last seconds, so it waits for the next window then.
    const msLeftInWindow = 60_000 - (Date.now() % 60_000);
    if (msLeftInWindow < 3000) await new Promise((resolve) => setTimeout(resolve, msLeftInWindow + 50));
    const responses = await Promise.all(
      Array.from({ length: 32 }, () => call("/v1/auth/sign-in", { ip, body: { email: "nobody@example.com", password: "whatever-it-is-1" } })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(30);
    const limited = responses.filter((r) => r.status === 429);
    expect(limited).toHaveLength(2);
    expect(limited[0]?.headers.get("retry-after")).toBe("60");
    await expectProblem(limited[0] as Response, 429);
  });
});
