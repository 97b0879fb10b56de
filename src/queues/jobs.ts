/**
 * Jobs carried by the `outbound` queue. Every job names its kind; modules add their kinds to the
 * union and a handler to `outboundHandlers` (src/queues/outbound.ts).
 */
export interface QueueJobBase {
  kind: string;
}

export type QueueJob = QueueJobBase & Record<string, unknown>;

/** Raised by a job handler when retrying cannot help (bad data, provider said 4xx). */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentJobError";
  }
}

/** Raised by a job handler to be retried, no sooner than `delaySeconds` when the provider said so. */
export class RetryLater extends Error {
  constructor(
    message: string,
    readonly delaySeconds?: number,
  ) {
    super(message);
    this.name = "RetryLater";
  }
}

/** Exponential backoff with full jitter, in seconds, capped at 15 minutes. */
export function backoffSeconds(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(900, 2 ** Math.max(0, attempt) * 5);
  return Math.max(1, Math.round(ceiling * random()));
}
