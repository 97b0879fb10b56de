import { importJWK, type JWK, SignJWT } from "jose";
import { z } from "zod";
import type { Config, Jwk } from "../../../env";
import { verifyCompactJws } from "./jws";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60;
const ISSUER = "billx";
const AUDIENCE = "billx-api";
const ALGORITHM = "ES256";
// Tolerated clock difference between whoever signed and whoever verifies.
const CLOCK_SKEW_SECONDS = 30;

export interface AccessClaims {
  /** User id. */
  sub: string;
  /** Session (refresh-token family) id: logout revokes it, and with it this token. */
  sid: string;
  iat: number;
  exp: number;
}

const ClaimsSchema = z.object({
  iss: z.literal(ISSUER),
  aud: z.union([z.literal(AUDIENCE), z.array(z.string()).refine((a) => a.includes(AUDIENCE))]),
  sub: z.string().startsWith("usr_"),
  sid: z.string().startsWith("sess_"),
  iat: z.number().int(),
  exp: z.number().int(),
  nbf: z.number().int().optional(),
});

/** The public half of the signing key plus keys kept for rotation: what `/.well-known/jwks.json` shows. */
export function publicJwks(config: Config): JWK[] {
  const { d: _private, ...current } = config.jwt.privateKey;
  return [toPublic(current as Jwk), ...config.jwt.previousPublicKeys.map(toPublic)];
}

function toPublic(key: Jwk): JWK {
  const { kty, crv, x, y, kid } = key as Jwk & { x?: string; y?: string };
  return { kty, crv, x, y, kid, alg: ALGORITHM, use: "sig" } as JWK;
}

export async function signAccessToken(config: Config, claims: { sub: string; sid: string }, now: Date): Promise<string> {
  const key = await importJWK({ ...config.jwt.privateKey, alg: ALGORITHM }, ALGORITHM);
  const issuedAt = Math.floor(now.getTime() / 1000);
  return new SignJWT({ sid: claims.sid })
    .setProtectedHeader({ alg: ALGORITHM, kid: config.jwt.privateKey.kid, typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claims.sub)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ACCESS_TOKEN_TTL_SECONDS)
    .sign(key);
}

/**
 * Checks signature (ES256 only, key by `kid`), issuer, audience, expiry and not-before.
 * Returns the claims, or `null` for any token that must be refused. Whether the session is still
 * alive is checked by the caller against the database.
 */
export async function verifyAccessToken(config: Config, token: string, now: Date): Promise<AccessClaims | null> {
  const verified = await verifyCompactJws(token, publicJwks(config), [ALGORITHM]);
  if (verified?.header.typ !== "JWT") return null;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(verified.payload));
  } catch {
    return null;
  }
  const parsed = ClaimsSchema.safeParse(json);
  if (!parsed.success) return null;
  const claims = parsed.data;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (claims.exp <= nowSeconds - CLOCK_SKEW_SECONDS) return null;
  if (claims.nbf !== undefined && claims.nbf > nowSeconds + CLOCK_SKEW_SECONDS) return null;
  if (claims.iat > nowSeconds + CLOCK_SKEW_SECONDS) return null;
  return { sub: claims.sub, sid: claims.sid, iat: claims.iat, exp: claims.exp };
}
