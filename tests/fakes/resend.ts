/**
 * A fake of Resend's send-email API (`POST /emails`):
 * - `Authorization: Bearer <key>`: none → 401 `missing_api_key`, another key → 403 "API key is invalid".
 * - Body `{from, to: string | string[], subject, text?, html?, cc?, bcc?, reply_to?, headers?, tags?}`,
 *   checked as Resend checks it (422 `missing_required_field` / `validation_error`), answered
 *   `200 {id}` with Resend's rate-limit headers.
 * - `Idempotency-Key` (1-256 characters, else 400 `invalid_idempotency_key`): a repeated key with
 *   the same payload answers the first reply and sends nothing; with another payload, 409
 *   `invalid_idempotent_request`.
 * Errors use Resend's envelope `{statusCode, name, message}`. Scope = the first `to` address:
 * `/_fake/failures` and `/_fake/requests?scope=` are per recipient, and `GET /_fake/emails?to=`
 * lists the emails actually accepted for an address (the mailbox a person would look in).
 */
import { createHash, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

/** The key tests/harness binds as RESEND_API_KEY in vitest.config.ts. */
export const FAKE_RESEND_API_KEY = "re_test_key";

export interface AcceptedEmail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string | null;
  html: string | null;
  cc: string[];
  bcc: string[];
  reply_to: string[];
  idempotency_key: string | null;
  /** As sent: `content` is base64. */
  attachments: { filename: string; content: string }[];
  created_at: string;
}

const ADDRESS = /^(?:[^<>]*<\s*[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+\s*>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/;
const MAX_RECIPIENTS = 50;
const RATE_LIMIT_HEADERS = { "ratelimit-limit": "2", "ratelimit-remaining": "1", "ratelimit-reset": "1" };

export function startFakeResend(apiKey = FAKE_RESEND_API_KEY) {
  const mailboxes = new Map<string, AcceptedEmail[]>();
  const idempotent = new Map<string, { payloadHash: string; status: number; body: unknown }>();

  return startFake<never>((req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");

    if (req.method === "GET" && url.pathname === "/_fake/emails") {
      return sendJson(res, 200, mailboxes.get(url.searchParams.get("to") ?? "") ?? []);
    }
    if (req.method !== "POST" || url.pathname !== "/emails") return resendError(res, 404, "not_found", "The requested endpoint does not exist.");

    const authorization = req.headers.authorization ?? "";
    if (!authorization)
      return resendError(
        res,
        401,
        "missing_api_key",
        "Missing API key in the authorization header. Include the following header Authorization: Bearer YOUR_API_KEY in the request.",
      );
    if (authorization !== `Bearer ${apiKey}`) return resendError(res, 403, "validation_error", "API key is invalid");

    const body = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, unknown>;
    const to = list(body.to);
    if (recordAndMaybeFail(req, res, state, to[0] ?? "")) return;

    const key = headerValue(req.headers["idempotency-key"]);
    if (key !== undefined && (key.length < 1 || key.length > 256)) {
      return resendError(res, 400, "invalid_idempotency_key", "The key must be between 1-256 chars.");
    }
    const payloadHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
    const previous = key ? idempotent.get(key) : undefined;
    if (previous) {
      if (previous.payloadHash !== payloadHash)
        return resendError(res, 409, "invalid_idempotent_request", "Same idempotency key used with a different request payload.");
      return sendJson(res, previous.status, previous.body, RATE_LIMIT_HEADERS);
    }

    const problem = validate(body, to);
    if (problem) return resendError(res, 422, problem.name, problem.message);

    const email: AcceptedEmail = {
      id: randomUUID(),
      from: String(body.from),
      to,
      subject: String(body.subject),
      text: typeof body.text === "string" ? body.text : null,
      html: typeof body.html === "string" ? body.html : null,
      cc: list(body.cc),
      bcc: list(body.bcc),
      reply_to: list(body.reply_to),
      idempotency_key: key ?? null,
      attachments: Array.isArray(body.attachments) ? (body.attachments as { filename: string; content: string }[]) : [],
      created_at: new Date().toISOString(),
    };
    const scope = to[0] as string;
    mailboxes.set(scope, [...(mailboxes.get(scope) ?? []), email]);
    const reply = { id: email.id };
    if (key) idempotent.set(key, { payloadHash, status: 200, body: reply });
    return sendJson(res, 200, reply, RATE_LIMIT_HEADERS);
  });
}

function validate(body: Record<string, unknown>, to: string[]): { name: string; message: string } | undefined {
  for (const field of ["from", "to", "subject"] as const) {
    if (body[field] === undefined || body[field] === "" || (field === "to" && to.length === 0)) {
      return { name: "missing_required_field", message: `Missing \`${field}\` field.` };
    }
  }
  if (typeof body.from !== "string" || !ADDRESS.test(body.from.trim())) {
    return {
      name: "validation_error",
      message: "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
    };
  }
  if (to.length > MAX_RECIPIENTS) return { name: "validation_error", message: `Invalid \`to\` field. Maximum of ${MAX_RECIPIENTS} recipients.` };
  if (to.some((address) => !ADDRESS.test(address.trim()))) {
    return {
      name: "validation_error",
      message: "Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
    };
  }
  if (typeof body.subject !== "string") return { name: "validation_error", message: "Invalid `subject` field. Expected string." };
  if (typeof body.text !== "string" && typeof body.html !== "string") return { name: "validation_error", message: "Missing `html` or `text` field." };
  if (body.attachments !== undefined) {
    const attachments = Array.isArray(body.attachments) ? (body.attachments as Record<string, unknown>[]) : null;
    if (!attachments?.every((a) => typeof a?.filename === "string" && (typeof a.content === "string" || typeof a.path === "string"))) {
      return { name: "validation_error", message: "Invalid `attachments` field. Each attachment needs a `filename` and a `content` or `path`." };
    }
  }
  return undefined;
}

function list(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function resendError(res: ServerResponse, status: number, name: string, message: string) {
  sendJson(res, status, { statusCode: status, name, message });
}
