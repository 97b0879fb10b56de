/**
 * A fake of Google's OAuth 2.0 / OpenID Connect endpoints for the authorization-code flow with PKCE:
 * - `POST /token` (form-encoded, client_secret_post or HTTP Basic): checks the client, that the
 *   code exists and is unused, the redirect_uri it was issued for, and that `code_verifier`
 *   hashes (S256) to the challenge it was issued for; answers `{access_token, id_token,
 *   expires_in, token_type, scope}` or Google's `{error, error_description}`.
 * - `GET /certs`: the JWKS of an RSA key generated at start; id_tokens are RS256 under it.
 * - `POST /_fake/authorize {client_id, redirect_uri, code_challenge, nonce, email, sub,
 *   email_verified?, name?}` plays the person consenting at Google and returns `{code}` (the
 *   real Google would redirect the browser to `redirect_uri?code=...&state=...`).
 * Scope = the Google account's `sub`: `/_fake/failures` makes its next token calls fail and
 * `/_fake/scripts` with `[{claims: {...}}]` overrides claims of its next id_token (a wrong
 * nonce or audience), so parallel test files using their own accounts never interfere.
 */
import { createHash, randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { nextScript, recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

export const FAKE_GOOGLE_ISSUER = "https://accounts.google.test";

export interface FakeGoogleClient {
  id: string;
  secret: string;
}

/** What the next id_token for an account looks like, when a test wants Google to misbehave. */
export interface TokenScript {
  claims?: Record<string, unknown>;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string;
  sub: string;
  email: string;
  emailVerified: boolean;
  name?: string;
  issuedAt: number;
}

// Google's authorization codes are short-lived; ten minutes is what it documents as the bound.
const CODE_TTL_MS = 10 * 60 * 1000;

/** The client registered by default, matching the GOOGLE_* bindings in vitest.config.ts. */
export const DEFAULT_FAKE_GOOGLE_CLIENT: FakeGoogleClient = { id: "test-client.apps.googleusercontent.com", secret: "test-secret" };

export async function startFakeGoogle(clients: FakeGoogleClient[] = [DEFAULT_FAKE_GOOGLE_CLIENT]) {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = randomBytes(8).toString("hex");
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" }] };
  const codes = new Map<string, IssuedCode>();

  return startFake<TokenScript>(async (req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const body = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, unknown>;

    if (req.method === "GET" && url.pathname === "/certs") {
      return sendJson(res, 200, jwks, { "cache-control": "public, max-age=300" });
    }

    if (req.method === "POST" && url.pathname === "/_fake/authorize") {
      const missing = ["client_id", "redirect_uri", "code_challenge", "nonce", "email", "sub"].filter((k) => typeof body[k] !== "string" || !body[k]);
      if (missing.length > 0) return sendJson(res, 400, { error: `missing ${missing.join(", ")}` });
      if (!clients.some((c) => c.id === body.client_id)) return oauthError(res, 401, "invalid_client", "The OAuth client was not found.");
      const code = `4/0Fake${randomBytes(24).toString("base64url")}`;
      codes.set(code, {
        clientId: String(body.client_id),
        redirectUri: String(body.redirect_uri),
        codeChallenge: String(body.code_challenge),
        nonce: String(body.nonce),
        sub: String(body.sub),
        email: String(body.email),
        emailVerified: body.email_verified !== false,
        name: typeof body.name === "string" ? body.name : undefined,
        issuedAt: Date.now(),
      });
      return sendJson(res, 200, { code });
    }

    if (req.method === "POST" && url.pathname === "/token") {
      if (!String(req.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")) {
        return oauthError(res, 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded");
      }
      const form = body as Record<string, string | undefined>;
      const issued = form.code ? codes.get(form.code) : undefined;
      // Recorded under the account the code was issued for, so a test reads back its own calls.
      if (recordAndMaybeFail(req, res, state, issued?.sub ?? "")) return;
      if (form.grant_type !== "authorization_code") return oauthError(res, 400, "unsupported_grant_type", "Invalid grant_type");

      const client = clientCredentials(req.headers.authorization, form);
      const registered = clients.find((c) => c.id === client.id);
      if (!registered || registered.secret !== client.secret) return oauthError(res, 401, "invalid_client", "Unauthorized");
      if (!form.code || !issued || issued.clientId !== client.id || Date.now() - issued.issuedAt > CODE_TTL_MS) {
        return oauthError(res, 400, "invalid_grant", "Malformed auth code.");
      }
      // A code is spent by any attempt to redeem it, as at Google.
      codes.delete(form.code);
      if (form.redirect_uri !== issued.redirectUri) return oauthError(res, 400, "redirect_uri_mismatch", "Bad Request");
      if (!form.code_verifier) return oauthError(res, 400, "invalid_request", "Missing code verifier.");
      if (createHash("sha256").update(form.code_verifier).digest("base64url") !== issued.codeChallenge) {
        return oauthError(res, 400, "invalid_grant", "Invalid code verifier.");
      }

      const script = nextScript(state, issued.sub);
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: FAKE_GOOGLE_ISSUER,
        azp: issued.clientId,
        aud: issued.clientId,
        sub: issued.sub,
        email: issued.email,
        email_verified: issued.emailVerified,
        nonce: issued.nonce,
        ...(issued.name ? { name: issued.name } : {}),
        iat: now,
        exp: now + 3600,
        ...script?.claims,
      };
      const idToken = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid, typ: "JWT" }).sign(privateKey);
      return sendJson(
        res,
        200,
        {
          access_token: `ya29.fake${randomBytes(24).toString("base64url")}`,
          expires_in: 3599,
          scope: "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
          token_type: "Bearer",
          id_token: idToken,
        },
        { "cache-control": "no-store" },
      );
    }

    return sendJson(res, 404, { error: "not_found", error_description: `${req.method} ${url.pathname}` });
  });
}

function clientCredentials(authorization: string | undefined, form: Record<string, string | undefined>): { id?: string; secret?: string } {
  const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? "");
  if (basic?.[1]) {
    const [id, secret] = Buffer.from(basic[1], "base64").toString("utf8").split(":");
    return { id: decodeURIComponent(id ?? ""), secret: decodeURIComponent(secret ?? "") };
  }
  return { id: form.client_id, secret: form.client_secret };
}

function oauthError(res: ServerResponse, status: number, error: string, description: string) {
  sendJson(res, status, { error, error_description: description });
}
