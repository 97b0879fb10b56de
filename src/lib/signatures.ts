import { timingSafeEqual } from "./crypto";

async function hmac(algorithm: "SHA-1" | "SHA-256", secret: string, data: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: algorithm }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)));
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Twilio's `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, the full URL Twilio called + every
 * POST parameter's name and value, sorted by name)). `url` must be the URL as Twilio saw it,
 * query string included.
 */
export async function twilioSignature(authToken: string, url: string, params: Record<string, string>): Promise<string> {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, name) => acc + name + params[name], url);
  return base64(await hmac("SHA-1", authToken, data));
}

export async function verifyTwilioSignature(authToken: string, url: string, params: Record<string, string>, signature: string | undefined): Promise<boolean> {
  if (!signature) return false;
  return timingSafeEqual(await twilioSignature(authToken, url, params), signature);
}

/** `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`, as Meta (WhatsApp) and GitHub sign webhooks. */
export async function hubSignature256(secret: string, rawBody: string): Promise<string> {
  return `sha256=${hex(await hmac("SHA-256", secret, rawBody))}`;
}

export async function verifyHubSignature256(secret: string, rawBody: string, signature: string | undefined): Promise<boolean> {
  if (!signature) return false;
  return timingSafeEqual(await hubSignature256(secret, rawBody), signature);
}
