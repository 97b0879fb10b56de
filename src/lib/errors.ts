/**
 * Every failure the API reports is an `AppError`, written once by `app.onError` as
 * RFC 9457 `application/problem+json`.
 */
export interface FieldError {
  /** Dotted path of the failing field, e.g. `items.0.quantity`. */
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
    /** Extra members of the problem body (RFC 9457 extensions), e.g. `balance` and `needed`. */
    readonly extensions?: Record<string, unknown>,
  ) {
    super(detail ?? title);
    this.name = "AppError";
  }
}

const TYPE_BASE = "https://billx.dev/problems/";

export class BadRequest extends AppError {
  constructor(detail: string) {
    super(400, `${TYPE_BASE}bad-request`, "Bad request", detail);
  }
}

export class Unauthorized extends AppError {
  constructor(detail = "Missing or invalid credentials") {
    super(401, `${TYPE_BASE}unauthorized`, "Unauthorized", detail, undefined, { "WWW-Authenticate": "Bearer" });
  }
}

export class Forbidden extends AppError {
  constructor(detail = "You do not have permission to do this") {
    super(403, `${TYPE_BASE}forbidden`, "Forbidden", detail);
  }
}

export class NotFound extends AppError {
  constructor(resource: string, id?: string) {
    super(404, `${TYPE_BASE}not-found`, "Not found", id ? `${resource} ${id} was not found` : `${resource} was not found`);
  }
}

export class MethodNotAllowed extends AppError {
  constructor(method: string, path: string, allowed: string[]) {
    super(405, `${TYPE_BASE}method-not-allowed`, "Method not allowed", `${method} is not supported on ${path}`, undefined, {
      Allow: allowed.join(", "),
    });
  }
}

/** Not enough credits for the work asked for; the body says how many there are and how many it needs. */
export class PaymentRequired extends AppError {
  constructor(
    readonly balance: number,
    readonly needed: number,
    detail = `This needs ${needed} credits and the organisation has ${balance}`,
  ) {
    super(402, `${TYPE_BASE}payment-required`, "Payment required", detail, undefined, undefined, { balance, needed });
  }
}

export class Conflict extends AppError {
  constructor(detail: string) {
    super(409, `${TYPE_BASE}conflict`, "Conflict", detail);
  }
}

export class PayloadTooLarge extends AppError {
  constructor(maxBytes: number) {
    super(413, `${TYPE_BASE}payload-too-large`, "Payload too large", `The request body exceeds ${maxBytes} bytes`);
  }
}

/** The request's content (an uploaded file) is of a kind this route does not take. */
export class UnsupportedMediaType extends AppError {
  constructor(errors: FieldError[], detail: string) {
    super(415, `${TYPE_BASE}unsupported-media-type`, "Unsupported media type", detail, errors);
  }
}

export class Unprocessable extends AppError {
  constructor(errors: FieldError[], detail = "The request did not pass validation") {
    super(422, `${TYPE_BASE}validation`, "Validation failed", detail, errors);
  }
}

/** An upstream service (Google, a provider) failed or answered something we cannot use. */
export class BadGateway extends AppError {
  constructor(detail: string) {
    super(502, `${TYPE_BASE}bad-gateway`, "Bad gateway", detail);
  }
}

export class ServiceUnavailable extends AppError {
  constructor(detail: string) {
    super(503, `${TYPE_BASE}unavailable`, "Service unavailable", detail);
  }
}

/** A provider (OpenAI, Twilio, ...) is not configured: says which variable to set. */
export class ProviderUnavailable extends AppError {
  constructor(readonly variable: string) {
    super(503, `${TYPE_BASE}provider-unavailable`, "Provider not configured", `Set ${variable} to enable this feature`);
  }
}

export class InternalError extends AppError {
  constructor() {
    super(500, `${TYPE_BASE}internal`, "Internal server error", "Something went wrong on our side; quote the request id when reporting it");
  }
}

/** The JSON body of a problem response. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  request_id?: string;
  [extension: string]: unknown;
}

export function problemBody(error: AppError, requestId?: string): ProblemBody {
  return {
    // Extensions first: they may add members, never replace the standard ones.
    ...error.extensions,
    type: error.type,
    title: error.title,
    status: error.status,
    ...(error.detail ? { detail: error.detail } : {}),
    ...(error.errors ? { errors: error.errors } : {}),
    ...(requestId ? { request_id: requestId } : {}),
  };
}

export function problemResponse(error: AppError, requestId?: string): Response {
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "application/problem+json");
  if (requestId) headers.set("X-Request-Id", requestId);
  return new Response(JSON.stringify(problemBody(error, requestId)), { status: error.status, headers });
}
