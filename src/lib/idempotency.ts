import { sha256Hex } from "./crypto";

/** An Idempotency-Key and the fingerprint of the request it came with. */
export interface IdempotentRequest {
  key: string;
  fingerprint: string;
}

/**
 * What identifies a request for an Idempotency-Key: the SHA-256 of its JSON with object keys
 * sorted, so the same fields in another order are the same request and any changed value is not.
 */
export async function requestFingerprint(request: unknown): Promise<string> {
  return sha256Hex(JSON.stringify(request, (_key, value: unknown) => (isPlainObject(value) ? sortKeys(value) : value)));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, value[key]]),
  );
}
