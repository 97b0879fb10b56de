import { SELF } from "cloudflare:test";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { auditEvents, loginCodes, memberships, oauthIdentities, oauthStates, users } from "../src/db/schema";
import { call, signUp, uniqueEmail, uniqueIp } from "./harness/api";
import { expectProblem, fetchWithEnv, testCtx, testEnv } from "./harness/helpers";

const APP_RETURN = "https://app.billx.test/auth/google/done";
const CALLBACK = "http://api.test/v1/auth/google/callback";
const googleUrl = (path: string) => `${inject("googleBaseUrl")}${path}`;

interface GoogleAccount {
  sub: string;
  email: string;
  name?: string;
  email_verified?: boolean;
}

let subjects = 0;
function googleAccount(label = "g"): GoogleAccount {
  return { sub: `10${Date.now()}${++subjects}`, email: uniqueEmail(label), name: `Google ${label}` };
}

async function fakeGoogle(path: string, body: unknown): Promise<Response> {
  return fetch(googleUrl(path), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** A browser GET that does not follow the redirect, so the test sees where it points. */
function browse(path: string): Promise<Response> {
  return SELF.fetch(`http://api.test${path}`, { headers: { "CF-Connecting-IP": uniqueIp() }, redirect: "manual" });
}

/** GET /v1/auth/google/login; returns Google's authorization URL the browser was sent to. */
async function startLogin(redirect = APP_RETURN): Promise<URL> {
  const response = await browse(`/v1/auth/google/login?redirect=${encodeURIComponent(redirect)}`);
  expect(response.status).toBe(302);
  return new URL(response.headers.get("location") ?? "");
}

/** The person consents at Google: returns the callback URL Google would send the browser to. */
async function consent(authorization: URL, account: GoogleAccount): Promise<URL> {
  const params = authorization.searchParams;
  const response = await fakeGoogle("/_fake/authorize", {
    client_id: params.get("client_id"),
    redirect_uri: params.get("redirect_uri"),
    code_challenge: params.get("code_challenge"),
    nonce: params.get("nonce"),
    ...account,
  });
  expect(response.status).toBe(200);
  const { code } = (await response.json()) as { code: string };
  const back = new URL(params.get("redirect_uri") ?? "");
  back.searchParams.set("code", code);
  back.searchParams.set("state", params.get("state") ?? "");
  return back;
}

function callback(url: URL): Promise<Response> {
  return browse(`${url.pathname}${url.search}`);
}

function exchange(code: string): Promise<Response> {
  return call("/v1/auth/google/exchange", { body: { code } });
}

/** The whole browser round trip; returns the login code the app received. */
async function signInWithGoogle(account: GoogleAccount): Promise<string> {
  const back = await callback(await consent(await startLogin(), account));
  expect(back.status).toBe(302);
  const landing = new URL(back.headers.get("location") ?? "");
  expect(`${landing.origin}${landing.pathname}`).toBe(APP_RETURN);
  return landing.searchParams.get("code") ?? "";
}

async function signInAndExchange(account: GoogleAccount) {
  const response = await exchange(await signInWithGoogle(account));
  expect(response.status).toBe(200);
  return (await response.json()) as { user: { id: string; email: string; name: string }; access_token: string; refresh_token: string };
}

async function me(token: string) {
  const response = await call("/v1/auth/me", { token });
  expect(response.status).toBe(200);
  return (await response.json()) as { user: { id: string; email: string }; orgs: { id: string; name: string; role: string }[] };
}

async function usersWithEmail(email: string) {
  return testCtx()
    .db.select()
    .from(users)
    .where(eq(sql`lower(${users.email})`, email.toLowerCase()));
}

async function s256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

describe("Google sign-in", () => {
  it("sends the browser to Google with client, callback, scope, state, nonce and an S256 PKCE challenge", async () => {
    const authorization = await startLogin();
    expect(`${authorization.origin}${authorization.pathname}`).toBe(googleUrl("/auth"));
    const params = Object.fromEntries(authorization.searchParams);
    expect(params).toEqual({
      response_type: "code",
      client_id: "test-client.apps.googleusercontent.com",
      redirect_uri: CALLBACK,
      scope: "openid email profile",
      state: expect.stringMatching(/^[\w-]{43}$/),
      nonce: expect.stringMatching(/^[\w-]{43}$/),
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      code_challenge_method: "S256",
    });

    const [pending] = await testCtx().db.select().from(oauthStates).where(eq(oauthStates.state, params.state!));
    expect(pending).toMatchObject({ provider: "google", nonce: params.nonce, redirectUri: APP_RETURN });
    expect(await s256(pending!.codeVerifier)).toBe(params.code_challenge);
    const minutesLeft = (pending!.expiresAt.getTime() - Date.now()) / 60_000;
    expect(minutesLeft).toBeGreaterThan(9);
    expect(minutesLeft).toBeLessThanOrEqual(10);
  });

  it("signs a new person up: callback lands on the app with a code that buys working tokens, and they own a new organisation", async () => {
    const account = googleAccount("newcomer");
    const authorization = await startLogin();
    const back = await callback(await consent(authorization, account));
    expect(back.status).toBe(302);
    const landing = new URL(back.headers.get("location") ?? "");
    expect(`${landing.origin}${landing.pathname}`).toBe(APP_RETURN);
    expect([...landing.searchParams.keys()]).toEqual(["code"]);
    const code = landing.searchParams.get("code")!;
    expect(code).toMatch(/^lc_/);

    const response = await exchange(code);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { user: { id: string }; access_token: string; refresh_token: string; token_type: string };
    expect(body).toMatchObject({ user: { id: expect.stringMatching(/^usr_/), email: account.email, name: account.name }, token_type: "Bearer" });
    expect(await me(body.access_token)).toEqual({
      user: { id: body.user.id, email: account.email, name: account.name, is_super_admin: false },
      orgs: [{ id: expect.stringMatching(/^org_/), name: `${account.name}'s organisation`, role: "owner" }],
    });
    expect((await call("/v1/auth/refresh", { body: { refresh_token: body.refresh_token } })).status).toBe(200);

    const db = testCtx().db;
    const [user] = await db.select().from(users).where(eq(users.id, body.user.id));
    expect(user?.passwordHash).toBeNull();
    expect(user?.emailVerifiedAt).toBeInstanceOf(Date);
    expect(await db.select().from(oauthIdentities).where(eq(oauthIdentities.userId, body.user.id))).toEqual([
      expect.objectContaining({ provider: "google", subject: account.sub, email: account.email }),
    ]);
    const events = await db.select().from(auditEvents).where(eq(auditEvents.actorUserId, body.user.id));
    expect(events.map((e) => [e.action, e.metadata])).toEqual(
      expect.arrayContaining([
        ["user.signed_up", { method: "google" }],
        ["user.signed_in", { method: "google" }],
      ]),
    );
    // The state is spent; the token request to Google carried the PKCE verifier and our callback.
    expect(
      await db
        .select()
        .from(oauthStates)
        .where(eq(oauthStates.state, authorization.searchParams.get("state")!)),
    ).toEqual([]);
    const requests = (await (await fetch(googleUrl(`/_fake/requests?scope=${account.sub}`))).json()) as { body: Record<string, string> }[];
    expect(requests).toHaveLength(1);
    expect(requests[0]?.body).toMatchObject({
      grant_type: "authorization_code",
      redirect_uri: CALLBACK,
      client_id: "test-client.apps.googleusercontent.com",
      client_secret: "test-secret",
      code_verifier: expect.stringMatching(/^[\w-]{43,128}$/),
    });
  });

  it("finds the same user on a second sign-in with the same Google account, even after its email changed", async () => {
    const account = googleAccount("returning");
    const first = await signInAndExchange(account);
    const second = await signInAndExchange({ ...account, email: uniqueEmail("renamed") });
    expect(second.user.id).toBe(first.user.id);
    expect((await me(second.access_token)).orgs).toHaveLength(1);
    expect(await testCtx().db.select().from(oauthIdentities).where(eq(oauthIdentities.subject, account.sub))).toHaveLength(1);
  });

  it("links Google to an existing password account with the same email, whatever its case", async () => {
    const existing = await signUp("linked");
    const account = { ...googleAccount("linked"), email: existing.user.email.toUpperCase() };
    const result = await signInAndExchange(account);
    expect(result.user.id).toBe(existing.user.id);
    expect((await me(result.access_token)).orgs).toEqual([expect.objectContaining({ id: existing.orgId, role: "owner" })]);
    expect(await usersWithEmail(existing.user.email)).toHaveLength(1);

    const [identity] = await testCtx().db.select().from(oauthIdentities).where(eq(oauthIdentities.subject, account.sub));
    expect(identity?.userId).toBe(existing.user.id);
    // The password keeps working.
    expect((await call("/v1/auth/sign-in", { body: { email: existing.user.email, password: existing.password } })).status).toBe(200);
    const linked = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.actorUserId, existing.user.id), eq(auditEvents.action, "user.identity_linked")));
    expect(linked).toHaveLength(1);
  });

  it("sends the person back to the app with Google's error when they decline, signing no one in", async () => {
    const authorization = await startLogin();
    const back = await browse(`/v1/auth/google/callback?error=access_denied&state=${authorization.searchParams.get("state")}`);
    expect(back.status).toBe(302);
    expect(back.headers.get("location")).toBe(`${APP_RETURN}?error=access_denied`);
    // The state is spent by the refusal too.
    await expectProblem(await browse(`/v1/auth/google/callback?error=access_denied&state=${authorization.searchParams.get("state")}`), 400);
  });
});

describe("Google sign-in refusals", () => {
  it("refuses a redirect to an origin that is not allowed, with 422 on redirect, and remembers nothing", async () => {
    const before = await testCtx().db.select().from(oauthStates);
    for (const redirect of ["https://evil.test/steal", "https://app.billx.test.evil.test/x", "javascript:alert(1)"]) {
      const response = await browse(`/v1/auth/google/login?redirect=${encodeURIComponent(redirect)}`);
      const body = await expectProblem(response, 422);
      expect(body.errors?.map((e) => e.path)).toEqual(["redirect"]);
    }
    expect(await expectProblem(await browse("/v1/auth/google/login"), 422)).toMatchObject({ errors: [expect.objectContaining({ path: "redirect" })] });
    expect(await testCtx().db.select().from(oauthStates)).toHaveLength(before.length);
  });

  it("accepts a state once: the same callback a second time answers 400", async () => {
    const back = await consent(await startLogin(), googleAccount("twice"));
    expect((await callback(back)).status).toBe(302);
    const again = await expectProblem(await callback(back), 400);
    expect(again.detail).toMatch(/unknown, expired or already used/);
  });

  it("refuses a forged or expired state with 400 and never calls Google", async () => {
    const account = googleAccount("forged");
    const authorization = await startLogin();
    const back = await consent(authorization, account);
    back.searchParams.set("state", "forged-state-value");
    await expectProblem(await callback(back), 400);

    await testCtx()
      .db.update(oauthStates)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(oauthStates.state, authorization.searchParams.get("state")!));
    back.searchParams.set("state", authorization.searchParams.get("state")!);
    await expectProblem(await callback(back), 400);

    expect(await (await fetch(googleUrl(`/_fake/requests?scope=${account.sub}`))).json()).toEqual([]);
    expect(await usersWithEmail(account.email)).toEqual([]);
  });

  it.each([
    ["a nonce from another sign-in", { nonce: "not-the-nonce-we-sent" }],
    ["an audience of another client", { aud: "someone-else.apps.googleusercontent.com" }],
    ["another issuer", { iss: "https://accounts.evil.test" }],
    ["an expiry in the past", { exp: Math.floor(Date.now() / 1000) - 600 }],
  ])("refuses an ID token with %s and creates no user", async (_label, claims) => {
    const account = googleAccount("misbehave");
    await fakeGoogle("/_fake/scripts", { scope: account.sub, responses: [{ claims }] });
    const back = await callback(await consent(await startLogin(), account));
    expect((await expectProblem(back, 401)).detail).toMatch(/ID token/);
    expect(await usersWithEmail(account.email)).toEqual([]);
    expect(await testCtx().db.select().from(oauthIdentities).where(eq(oauthIdentities.subject, account.sub))).toEqual([]);
  });

  it("refuses an email Google has not verified with 403 and creates no user", async () => {
    const account = { ...googleAccount("unverified"), email_verified: false };
    const back = await callback(await consent(await startLogin(), account));
    expect((await expectProblem(back, 403)).detail).toMatch(/not verified/);
    expect(await usersWithEmail(account.email)).toEqual([]);
  });

  it.each([
    ["fails", { status: 500, body: { error: "internal_failure" } }],
    ["refuses the code", { status: 400, body: { error: "invalid_grant", error_description: "Bad Request" } }],
  ])("answers 502 when Google's token endpoint %s, and creates nothing", async (_label, failure) => {
    const account = googleAccount("upstream");
    await fakeGoogle("/_fake/failures", { scope: account.sub, failures: [failure] });
    const back = await callback(await consent(await startLogin(), account));
    expect((await expectProblem(back, 502)).detail).toContain(failure.body.error);
    expect(await usersWithEmail(account.email)).toEqual([]);
  });

  it("accepts a login code once; a replay, an unknown or an expired code answers 401", async () => {
    const code = await signInWithGoogle(googleAccount("once"));
    expect((await exchange(code)).status).toBe(200);
    expect((await expectProblem(await exchange(code), 401)).detail).toMatch(/invalid, expired or already used/);
    await expectProblem(await exchange("lc_made-up"), 401);

    const staleAccount = googleAccount("stale");
    const stale = await signInWithGoogle(staleAccount);
    const [staleUser] = await usersWithEmail(staleAccount.email);
    await testCtx()
      .db.update(loginCodes)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(loginCodes.userId, staleUser!.id));
    await expectProblem(await exchange(stale), 401);
  });

  it("lets exactly one of racing exchanges of one login code win", async () => {
    const code = await signInWithGoogle(googleAccount("race"));
    const attempts = await Promise.all([1, 2, 3, 4].map(() => exchange(code)));
    expect(attempts.map((r) => r.status).sort()).toEqual([200, 401, 401, 401]);
  });

  it("signs two racing first sign-ins of one Google account into one user", async () => {
    const account = googleAccount("racing-first");
    const [a, b] = await Promise.all([signInAndExchange(account), signInAndExchange(account)]);
    expect(a.user.id).toBe(b.user.id);
    const [user] = await usersWithEmail(account.email);
    expect(await testCtx().db.select().from(memberships).where(eq(memberships.userId, user!.id))).toHaveLength(1);
  });

  it("answers 503 naming GOOGLE_CLIENT_ID when Google is not configured", async () => {
    const request = new Request(`http://api.test/v1/auth/google/login?redirect=${encodeURIComponent(APP_RETURN)}`, {
      headers: { "CF-Connecting-IP": uniqueIp() },
    });
    const response = await fetchWithEnv(request, { GOOGLE_CLIENT_ID: undefined });
    expect((await expectProblem(response, 503)).detail).toContain("GOOGLE_CLIENT_ID");
    expect(testEnv.GOOGLE_CLIENT_ID).toBe("test-client.apps.googleusercontent.com");
  });
});
