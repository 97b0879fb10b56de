import { compactVerify, createLocalJWKSet, errors, type JWK } from "jose";

export interface VerifiedJws {
  header: Record<string, unknown>;
  payload: Uint8Array;
}

/**
 * Verifies a compact JWS against a set of keys, accepting only the listed algorithms. The key is
 * chosen by `kid`; an unknown `kid`, an algorithm outside the list (`none`, or HS256 forged with a
 * public key), or a bad signature all fail. Access tokens and any other signed payload go
 * through here. Returns `null` on failure, never throws for bad input.
 */
export async function verifyCompactJws(token: string, keys: JWK[], algorithms: string[]): Promise<VerifiedJws | null> {
  try {
    const { payload, protectedHeader } = await compactVerify(token, createLocalJWKSet({ keys }), { algorithms });
    return { header: protectedHeader as Record<string, unknown>, payload };
  } catch (error) {
    if (error instanceof errors.JOSEError || error instanceof TypeError) return null;
    throw error;
  }
}
