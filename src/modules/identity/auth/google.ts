/**
 * Google sign-in: OAuth 2.0 authorization code flow with PKCE (S256), `state` and an OpenID
 * Connect `nonce`. The browser leaves through `startGoogleSignIn`, comes back to
 * `finishGoogleSignIn`, and lands on the app with a one-time login code that the app trades for
 * tokens with `exchangeLoginCode`, so no token ever travels in a URL.
 */
import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from "jose";
import { z } from "zod";
import { withTransaction } from "../../../db/client";
import { loginCodes, oauthIdentities, oauthStates, users } from "../../../db/schema";
import type { Config } from "../../../env";
import type { ServiceCtx } from "../../../lib/context";
import { randomToken, sha256Hex, timingSafeEqual, toBase64Url } from "../../../lib/crypto";
import { BadGateway, BadRequest, Conflict, Forbidden, ProviderUnavailable, Unauthorized, Unprocessable } from "../../../lib/errors";
import { recordAudit } from "../audit/service";
import { type AuthResult, createUserWithOwnOrganisation } from "./service";
import { startSession } from "./sessions";
import { sendWelcome } from "./welcome";

const PROVIDER = "google";
const STATE_TTL_MS = 10 * 60 * 1000;
const LOGIN_CODE_TTL_MS = 60 * 1000;
const TOKEN_REQUEST_TIMEOUT_MS = 10_000;

interface GoogleClient {
  clientId: string;
  clientSecret: string;
  authUrl: string;
  tokenUrl: string;
  jwksUrl: string;
  issuer: string;
}

function googleClient(config: Config): GoogleClient {
  const { clientId, clientSecret, ...urls } = config.google;
  if (!clientId) throw new ProviderUnavailable("GOOGLE_CLIENT_ID");
  if (!clientSecret) throw new ProviderUnavailable("GOOGLE_CLIENT_SECRET");
  return { clientId, clientSecret, ...urls };
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

function withQuery(target: string, params: Record<string, string>): string {
  const url = new URL(target);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

async function s256(verifier: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
}

/**
 * Starts a Google sign-in: remembers state, PKCE verifier, nonce and where the app wants the
 * person back, and returns Google's authorization URL to redirect the browser to.
 * `callbackUrl` is this API's own callback as the browser reaches it.
 */
export async function startGoogleSignIn(ctx: ServiceCtx, input: { redirect: string; callbackUrl: string }): Promise<string> {
  const google = googleClient(ctx.config);
  // Only listed origins may receive login codes; anything else would hand a session to a stranger's site.
  const origin = originOf(input.redirect);
  const allowed = ctx.config.oauthRedirectOrigins.map(originOf);
  if (!origin || origin === "null" || !allowed.includes(origin)) {
    throw new Unprocessable(
      [{ path: "redirect", message: `${origin ?? input.redirect} is not an allowed redirect origin` }],
      "The redirect URL is not allowed",
    );
  }

  const state = randomToken(32);
  const codeVerifier = randomToken(48);
  const nonce = randomToken(32);
  await ctx.db.insert(oauthStates).values({
    state,
    provider: PROVIDER,
    codeVerifier,
    nonce,
    redirectUri: input.redirect,
    expiresAt: new Date(ctx.now().getTime() + STATE_TTL_MS),
  });
  return withQuery(google.authUrl, {
    response_type: "code",
    client_id: google.clientId,
    redirect_uri: input.callbackUrl,
    scope: "openid email profile",
    state,
    nonce,
    code_challenge: await s256(codeVerifier),
    code_challenge_method: "S256",
  });
}

/**
 * Finishes a Google sign-in on the callback: consumes the state, redeems the code, verifies the
 * ID token, finds, links or creates the user, and returns the app URL to redirect to, carrying a
 * one-time login code (or Google's `error`).
 */
export async function finishGoogleSignIn(ctx: ServiceCtx, input: { state: string; code?: string; error?: string; callbackUrl: string }): Promise<string> {
  const google = googleClient(ctx.config);
  // Deleting is the claim: of two callbacks with one state only one gets the row back.
  const [pending] = await ctx.db
    .delete(oauthStates)
    .where(and(eq(oauthStates.state, input.state), eq(oauthStates.provider, PROVIDER)))
    .returning();
  if (!pending || pending.expiresAt <= ctx.now()) throw new BadRequest("This sign-in link is unknown, expired or already used; start signing in again");

  if (input.error || !input.code) return withQuery(pending.redirectUri, { error: input.error ?? "invalid_request" });

  const idToken = await redeemCode(ctx, google, { code: input.code, codeVerifier: pending.codeVerifier, callbackUrl: input.callbackUrl });
  const identity = await verifyIdToken(google, idToken, pending.nonce);
  const { userId, orgId, outcome } = await findOrCreateUser(ctx, identity);

  if (outcome === "created") {
    await recordAudit(ctx, { orgId, action: "user.signed_up", actorUserId: userId, targetType: "user", targetId: userId, metadata: { method: PROVIDER } });
    await sendWelcome(ctx, { userId, email: identity.email, name: identity.name });
  } else if (outcome === "linked") {
    await recordAudit(ctx, {
      orgId: null,
      action: "user.identity_linked",
      actorUserId: userId,
      targetType: "user",
      targetId: userId,
      metadata: { provider: PROVIDER },
    });
  }
  await recordAudit(ctx, { orgId: null, action: "user.signed_in", actorUserId: userId, targetType: "user", targetId: userId, metadata: { method: PROVIDER } });

  const loginCode = `lc_${randomToken(32)}`;
  await ctx.db.insert(loginCodes).values({ codeHash: await sha256Hex(loginCode), userId, expiresAt: new Date(ctx.now().getTime() + LOGIN_CODE_TTL_MS) });
  return withQuery(pending.redirectUri, { code: loginCode });
}

/** Trades a login code from `finishGoogleSignIn` for a session. Each code works once, for 60 seconds. */
export async function exchangeLoginCode(ctx: ServiceCtx, code: string): Promise<AuthResult> {
  const now = ctx.now();
  // Claim and liveness in one statement: of two racing exchanges only one gets the row back.
  const [claimed] = await ctx.db
    .update(loginCodes)
    .set({ usedAt: now })
    .where(and(eq(loginCodes.codeHash, await sha256Hex(code)), isNull(loginCodes.usedAt), gt(loginCodes.expiresAt, now)))
    .returning({ userId: loginCodes.userId });
  if (!claimed) throw new Unauthorized("The login code is invalid, expired or already used");
  const [user] = await ctx.db.select({ id: users.id, email: users.email, name: users.name }).from(users).where(eq(users.id, claimed.userId));
  if (!user) throw new Unauthorized("The login code is invalid, expired or already used");
  return { user, ...(await startSession(ctx, user.id)) };
}

const TokenResponse = z.object({ id_token: z.string().min(1) });
const TokenError = z.object({ error: z.string() });

async function redeemCode(ctx: ServiceCtx, google: GoogleClient, input: { code: string; codeVerifier: string; callbackUrl: string }): Promise<string> {
  let response: Response;
  try {
    response = await fetch(google.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: input.code,
        redirect_uri: input.callbackUrl,
        client_id: google.clientId,
        client_secret: google.clientSecret,
        code_verifier: input.codeVerifier,
      }),
      signal: AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    ctx.log.warn("google token endpoint unreachable", { error });
    throw new BadGateway("Google could not be reached to finish signing in; try again");
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const reason = TokenError.safeParse(body).data?.error ?? `HTTP ${response.status}`;
    ctx.log.warn("google token endpoint refused the code", { status: response.status, reason });
    throw new BadGateway(`Google refused to finish the sign-in (${reason}); start signing in again`);
  }
  const parsed = TokenResponse.safeParse(body);
  if (!parsed.success) throw new BadGateway("Google's token response carried no ID token");
  return parsed.data.id_token;
}

const IdTokenClaims = z.object({
  sub: z.string().min(1),
  email: z.string().min(1),
  // Google sends a boolean; older tokens carried the string "true".
  email_verified: z.union([z.boolean(), z.literal("true").transform(() => true), z.literal("false").transform(() => false)]).optional(),
  nonce: z.string().optional(),
  name: z.string().optional(),
});

interface GoogleIdentity {
  sub: string;
  email: string;
  name: string;
}

// Failures that mean the token itself is wrong, as opposed to Google's key endpoint failing.
const INVALID_TOKEN_CODES = new Set<string>([
  joseErrors.JWTClaimValidationFailed.code,
  joseErrors.JWTExpired.code,
  joseErrors.JWTInvalid.code,
  joseErrors.JWSInvalid.code,
  joseErrors.JWSSignatureVerificationFailed.code,
  joseErrors.JOSEAlgNotAllowed.code,
  joseErrors.JWKSNoMatchingKey.code,
  joseErrors.JWKSMultipleMatchingKeys.code,
]);

async function verifyIdToken(google: GoogleClient, idToken: string, expectedNonce: string): Promise<GoogleIdentity> {
  let payload: unknown;
  try {
    // A key set per sign-in: a cached one would share an in-flight fetch across requests, which workerd forbids.
    const keys = createRemoteJWKSet(new URL(google.jwksUrl));
    // Google documents both spellings of its issuer.
    const issuers = [...new Set([google.issuer, google.issuer.replace(/^https:\/\//, "")])];
    ({ payload } = await jwtVerify(idToken, keys, { issuer: issuers, audience: google.clientId, algorithms: ["RS256"] }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError && INVALID_TOKEN_CODES.has(error.code)) {
      throw new Unauthorized(`Google's ID token could not be verified: ${error.message}`);
    }
    throw new BadGateway("Google's signing keys could not be fetched to verify the sign-in; try again");
  }
  const claims = IdTokenClaims.safeParse(payload);
  if (!claims.success) throw new Unauthorized("Google's ID token lacks the subject or email");
  // The nonce ties the token to the browser session that started this sign-in (no replayed tokens).
  if (!claims.data.nonce || !timingSafeEqual(claims.data.nonce, expectedNonce)) throw new Unauthorized("Google's ID token was not issued for this sign-in");
  if (claims.data.email_verified !== true) throw new Forbidden("Google has not verified this email address; verify it with Google first");
  const email = claims.data.email.trim();
  return { sub: claims.data.sub, email, name: claims.data.name?.trim() || email.split("@")[0] || email };
}

/**
 * The user a Google account signs in as: the one already linked to its `sub`, else the account
 * with the same (verified) email, now linked, else a new user with their own organisation.
 */
async function findOrCreateUser(
  ctx: ServiceCtx,
  identity: GoogleIdentity,
): Promise<{ userId: string; orgId: string | null; outcome: "existing" | "linked" | "created" }> {
  return withTransaction(ctx, async (tx) => {
    const [known] = await tx
      .select({ userId: oauthIdentities.userId })
      .from(oauthIdentities)
      .where(and(eq(oauthIdentities.provider, PROVIDER), eq(oauthIdentities.subject, identity.sub)));
    if (known) return { userId: known.userId, orgId: null, outcome: "existing" as const };

    const created = await createUserWithOwnOrganisation(tx, { email: identity.email, name: identity.name, passwordHash: null, emailVerifiedAt: ctx.now() });
    let userId: string;
    if (created) {
      userId = created.user.id;
    } else {
      const [existing] = await tx
        .select({ id: users.id })
        .from(users)
        .where(eq(sql`lower(${users.email})`, identity.email.toLowerCase()));
      if (!existing) throw new Conflict("The account with this email changed during sign-in; try again");
      userId = existing.id;
      // Google just proved the address belongs to this person.
      await tx
        .update(users)
        .set({ emailVerifiedAt: ctx.now(), updatedAt: ctx.now() })
        .where(and(eq(users.id, userId), isNull(users.emailVerifiedAt)));
    }

    const linked = await tx
      .insert(oauthIdentities)
      .values({ provider: PROVIDER, subject: identity.sub, userId, email: identity.email })
      .onConflictDoNothing()
      .returning({ userId: oauthIdentities.userId });
    if (linked.length === 0) {
      // A concurrent callback for the same Google account linked it first: follow its choice,
      // unless that leaves the user we just created orphaned, then roll back and let them retry.
      const [winner] = await tx
        .select({ userId: oauthIdentities.userId })
        .from(oauthIdentities)
        .where(and(eq(oauthIdentities.provider, PROVIDER), eq(oauthIdentities.subject, identity.sub)));
      if (!winner || (created && winner.userId !== userId)) throw new Conflict("This Google account is signing in elsewhere at the same moment; try again");
      return { userId: winner.userId, orgId: null, outcome: "existing" as const };
    }
    return created ? { userId, orgId: created.orgId, outcome: "created" as const } : { userId, orgId: null, outcome: "linked" as const };
  });
}
