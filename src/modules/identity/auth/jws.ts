import { type CompactJWSHeaderParameters, compactVerify, errors, importJWK, type JWK } from "jose";

export interface VerifiedJws {
  header: Record<string, unknown>;
  payload: Uint8Array;
}

// Which key types may verify which algorithms: a key is never used outside its family, so an
// HS256 token cannot be checked with an EC or RSA public key taken as an HMAC secret.
const KEY_TYPE_BY_ALG_PREFIX: Record<string, string> = { HS: "oct", RS: "RSA", PS: "RSA", ES: "EC" };

/** Only the public members of a key (or the secret of a symmetric one): verification needs no more. */
function verificationPart(key: JWK): JWK {
  switch (key.kty) {
    case "RSA":
      return { kty: key.kty, n: key.n, e: key.e };
    case "EC":
      return { kty: key.kty, crv: key.crv, x: key.x, y: key.y };
    case "OKP":
      return { kty: key.kty, crv: key.crv, x: key.x };
    default:
      return { kty: key.kty, k: key.k };
  }
}

/**
 * Verifies a compact JWS against a set of keys, accepting only the listed algorithms. The key is
 * chosen by `kid` (a token naming an unknown kid fails) and must be of the algorithm's key type.
 * `alg: none`, an algorithm outside the list, a key of the wrong family and a bad signature all
 * fail. Access tokens and any other signed payload go through here. Returns `null` on failure;
 * never throws for bad input.
 */
export async function verifyCompactJws(token: string, keys: JWK[], algorithms: string[]): Promise<VerifiedJws | null> {
  const resolveKey = async (header: CompactJWSHeaderParameters) => {
    const kty = KEY_TYPE_BY_ALG_PREFIX[header.alg.slice(0, 2)];
    const key = keys.find((k) => k.kty === kty && (header.kid === undefined ? keys.length === 1 : k.kid === header.kid));
    if (!key) throw new errors.JWKSNoMatchingKey();
    return importJWK(verificationPart(key), header.alg);
  };
  try {
    const { payload, protectedHeader } = await compactVerify(token, resolveKey, { algorithms });
    return { header: protectedHeader as Record<string, unknown>, payload };
  } catch (error) {
    if (error instanceof errors.JOSEError || error instanceof TypeError || error instanceof SyntaxError) return null;
    throw error;
  }
}
