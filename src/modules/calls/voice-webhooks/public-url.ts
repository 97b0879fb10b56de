import type { ServiceCtx } from "../../../lib/context";
import { ProviderUnavailable } from "../../../lib/errors";

/** Where Twilio reaches our voice webhooks, below the public base URL. */
export const VOICE_PATHS = {
  incoming: "/v1/voice/twilio/incoming",
  status: "/v1/voice/twilio/status",
  stream: "/v1/voice/twilio/stream",
} as const;

/**
 * The API's public base URL as Twilio sees it, without a trailing slash (`PUBLIC_BASE_URL`, or
 * its other name `PUBLIC_API_URL`); undefined when neither is set.
 */
export function publicBaseUrl(ctx: ServiceCtx): string | undefined {
  return ctx.config.publicApiUrl?.replace(/\/+$/, "");
}

/** The public base URL, or 503 naming the variable: Twilio cannot call a number's webhooks without it. */
export function requirePublicBaseUrl(ctx: ServiceCtx): string {
  const base = publicBaseUrl(ctx);
  if (!base) throw new ProviderUnavailable("PUBLIC_BASE_URL");
  return base;
}

/**
 * The URL Twilio signed a request to: the public base URL + the path (and query) when one is
 * set, since behind a proxy our own URL is not the one Twilio called; the request's URL otherwise.
 */
export function signedUrl(ctx: ServiceCtx, requestUrl: string): string {
  const base = publicBaseUrl(ctx);
  if (!base) return requestUrl;
  const url = new URL(requestUrl);
  return `${base}${url.pathname}${url.search}`;
}
