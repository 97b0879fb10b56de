/**
 * Secrets at rest (linked database URLs): AES-256-GCM with a random 96-bit IV per secret and the
 * key id stored beside it, so keys can rotate: new secrets use the current key, old ones still
 * open with the key they were sealed with until they are re-sealed.
 *
 * Sealed form: `v1.<key id>.<iv base64url>.<ciphertext+tag base64url>`.
 */
import { toBase64Url } from "./crypto";

export interface KeyRing {
  /** The key new secrets are sealed with. */
  currentKeyId: string;
  /** Key id -> 32 raw bytes. */
  keys: Record<string, Uint8Array>;
}

function fromBase64Url(text: string): Uint8Array {
  const padded = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function importKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** The additional data binds a secret to what it belongs to: a sealed URL moved to another row does not open. */
function aad(context: string): Uint8Array {
  return new TextEncoder().encode(context);
}

export async function seal(ring: KeyRing, plaintext: string, context: string): Promise<{ sealed: string; keyId: string }> {
  const raw = ring.keys[ring.currentKeyId];
  if (!raw) throw new Error(`encryption key ${ring.currentKeyId} is not configured`);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(context) },
    await importKey(raw),
    new TextEncoder().encode(plaintext),
  );
  return { sealed: `v1.${ring.currentKeyId}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ciphertext))}`, keyId: ring.currentKeyId };
}

export async function open(ring: KeyRing, sealed: string, context: string): Promise<string> {
  const [version, keyId, iv, ciphertext] = sealed.split(".");
  if (version !== "v1" || !keyId || !iv || !ciphertext) throw new Error("not a sealed secret");
  const raw = ring.keys[keyId];
  if (!raw) throw new Error(`encryption key ${keyId} is not configured`);
  const plaintext = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64Url(iv), additionalData: aad(context) },
    await importKey(raw),
    fromBase64Url(ciphertext),
  );
  return new TextDecoder().decode(plaintext);
}

/**
 * Parses `DATA_ENCRYPTION_KEYS`: `kid:base64key[,kid:base64key...]`, the first is current. Each key
 * must be 32 bytes (AES-256).
 */
export function parseKeyRing(text: string): KeyRing | string {
  const keys: Record<string, Uint8Array> = {};
  let currentKeyId: string | undefined;
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [id, value] = part.split(":");
    if (!id || !value || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) return "each key must be written kid:base64 (kid of letters, digits, - or _)";
    let raw: Uint8Array;
    try {
      raw = fromBase64Url(value);
    } catch {
      return `key ${id} is not base64`;
    }
    if (raw.length !== 32) return `key ${id} must be 32 bytes (AES-256), found ${raw.length}`;
    keys[id] = raw;
    currentKeyId ??= id;
  }
  if (!currentKeyId) return "no key given";
  return { currentKeyId, keys };
}
