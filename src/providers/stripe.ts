/**
 * Stripe through its official SDK (https://docs.stripe.com/api), set up for Workers: requests go
 * through `fetch` (the SDK's default Node http client does not exist in workerd) and webhook
 * signatures are checked with SubtleCrypto, asynchronously (workerd has no synchronous HMAC).
 *
 * `STRIPE_API_BASE` moves the whole API elsewhere (tests point it at tests/fakes/stripe.ts).
 *
 * The SDK is loaded on first use: only payment routes and webhooks need it, and every cold isolate
 * would otherwise evaluate it at start-up.
 */
import type Stripe from "stripe";
import type { StripeConfig } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import { ProviderError } from "./errors";

export type { Stripe };

// A module cache, safe to share across requests: it holds code, no connection or key.
let sdk: typeof Stripe | undefined;

async function loadSdk(): Promise<typeof Stripe> {
  sdk ??= (await import("stripe")).default;
  return sdk;
}

/** The SDK's client for our account. Without `STRIPE_SECRET_KEY`: `ProviderUnavailable("STRIPE_SECRET_KEY")`. */
export async function stripeClient(config: { stripe: StripeConfig }): Promise<Stripe> {
  const secretKey = config.stripe.secretKey;
  if (!secretKey) throw new ProviderUnavailable("STRIPE_SECRET_KEY");
  const Stripe = await loadSdk();
  const base = new URL(config.stripe.apiBase);
  const protocol = base.protocol === "http:" ? "http" : "https";
  return new Stripe(secretKey, {
    httpClient: Stripe.createFetchHttpClient(),
    host: base.hostname,
    port: base.port || (protocol === "http" ? 80 : 443),
    protocol,
    // Retried requests carry the same Idempotency-Key, so a retry after a lost reply never
    // creates a second object; 2 is also the SDK's Node default.
    maxNetworkRetries: 2,
    timeout: 20_000,
    // The SDK reports per-request latency to Stripe in a header; nothing to gain from it here.
    telemetry: false,
  });
}

/**
 * Checks a webhook's `Stripe-Signature` (`t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`)
 * against the raw body, refusing a timestamp older than Stripe's default tolerance (300 s), and
 * returns the event. Throws `Stripe.errors.StripeSignatureVerificationError` on any mismatch.
 * `nowSeconds` stands in for the clock (for fixed test vectors).
 */
export async function constructStripeEvent(rawBody: string, header: string, secret: string, nowSeconds?: number): Promise<Stripe.Event> {
  const Stripe = await loadSdk();
  return Stripe.webhooks.constructEventAsync(
    rawBody,
    header,
    secret,
    undefined,
    Stripe.createSubtleCryptoProvider(),
    nowSeconds === undefined ? undefined : nowSeconds * 1000,
  );
}

/** Whether `error` is the SDK's signature failure (bad header, wrong secret, tampered body, stale). */
export function isSignatureError(error: unknown): boolean {
  // Only the SDK throws it, so the SDK is loaded whenever `error` can be one.
  return sdk !== undefined && error instanceof sdk.errors.StripeSignatureVerificationError;
}

/**
 * The SDK's errors as a `ProviderError`: connection failures, 409s (a concurrent request with the
 * same idempotency key), 429 and 5xx are retryable; Stripe's `{error:{type, code, message}}` gives
 * the reason.
 */
export function toProviderError(error: unknown): ProviderError | undefined {
  if (sdk === undefined || !(error instanceof sdk.errors.StripeError)) return undefined;
  const status = error.statusCode;
  const retryable = error instanceof sdk.errors.StripeConnectionError || status === undefined || status === 409 || status === 429 || status >= 500;
  return new ProviderError("stripe", status, error.code ?? error.type, retryable, error.message);
}
