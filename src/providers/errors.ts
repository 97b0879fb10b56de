/**
 * A provider answered with an error or could not be reached. `retryable` says whether trying
 * again later can help (network, 5xx, 429), so queue consumers can choose retry or give up.
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly retryable: boolean,
    message: string,
    readonly retryAfterSeconds?: number,
    /** No answer within the time allowed (as opposed to refused or unreachable). */
    readonly timedOut = false,
  ) {
    super(`${provider}: ${message}`);
    this.name = "ProviderError";
  }
}

/** Whether an HTTP status from a provider is worth retrying. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
}
