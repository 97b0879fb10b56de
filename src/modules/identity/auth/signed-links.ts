import { importJWK, SignJWT } from "jose";
import type { Config } from "../../../env";
import { verifyCompactJws } from "./jws";
import { publicJwks } from "./tokens";

// Links (a bill's, a file's) are signed with the access-token key, each kind under its own `typ`
// and audience: every verifier demands its own pair, so an access token never opens a link, a
// link of one kind never opens another, and none authenticates.
const ISSUER = "billx";
const ALGORITHM = "ES256";

export interface LinkKind {
  /** The JWS header `typ`, e.g. `bill-link+jwt`. */
  type: string;
  audience: string;
}

/** A compact token of `kind` for `subject` with `claims`, from `issuedAt` to `expiresAt` (epoch seconds). */
export async function signLinkToken(
  config: Config,
  kind: LinkKind,
  input: { subject: string; claims: Record<string, unknown>; issuedAt: number; expiresAt: number },
): Promise<string> {
  const key = await importJWK({ ...config.jwt.privateKey, alg: ALGORITHM }, ALGORITHM);
  return new SignJWT(input.claims)
    .setProtectedHeader({ alg: ALGORITHM, kid: config.jwt.privateKey.kid, typ: kind.type })
    .setIssuer(ISSUER)
    .setAudience(kind.audience)
    .setSubject(input.subject)
    .setIssuedAt(input.issuedAt)
    .setExpirationTime(input.expiresAt)
    .sign(key);
}

/**
 * The payload of a token of `kind` whose signature verifies, issuer and audience match and
 * `exp` has not passed at `now` (no clock-skew allowance: this Worker both signs and verifies);
 * null for anything else. The caller parses the payload's own claims.
 */
export async function verifiedLinkPayload(config: Config, kind: LinkKind, token: string, now: Date): Promise<Record<string, unknown> | null> {
  const verified = await verifyCompactJws(token, publicJwks(config), [ALGORITHM]);
  if (verified?.header.typ !== kind.type) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(verified.payload));
  } catch {
    return null;
  }
  if (typeof payload !== "object" || payload === null) return null;
  const claims = payload as Record<string, unknown>;
  if (claims.iss !== ISSUER || claims.aud !== kind.audience) return null;
  if (typeof claims.exp !== "number" || claims.exp <= Math.floor(now.getTime() / 1000)) return null;
  return claims;
}
