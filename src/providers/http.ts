import { isRetryableStatus, ProviderError } from "./errors";

const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * One HTTP call to a provider: a timeout, and every failure as a `ProviderError` — a network
 * error or timeout and 408/409/429/5xx are retryable, other 4xx are not. `Retry-After` (seconds
 * or an HTTP date) is carried for 429/503. `describe` turns the provider's error body into a reason.
 */
export async function providerFetch(
  provider: string,
  url: string,
  init: RequestInit,
  describe: (body: unknown, status: number) => { message: string; code?: string },
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    const reason = timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${error instanceof Error ? error.message : String(error)}`;
    throw new ProviderError(provider, undefined, undefined, true, reason, undefined, timedOut);
  }
  if (response.ok) return response;
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  const { message, code } = describe(body, response.status);
  throw new ProviderError(provider, response.status, code, isRetryableStatus(response.status), message, retryAfterSeconds(response.headers.get("retry-after")));
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
