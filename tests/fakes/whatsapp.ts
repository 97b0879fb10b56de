/**
 * A fake of the WhatsApp Cloud API's send endpoint on the Graph API:
 * - `POST /{version}/{phone-number-id}/messages` (JSON, `Authorization: Bearer <token>`): checks
 *   the token (190 when wrong), the phone number id (100/33 when unknown), and the parameters of
 *   text, template and image messages (100 "The parameter … is required"); answers 200
 *   `{messaging_product, contacts:[{input, wa_id}], messages:[{id: "wamid.…"}]}` or the Graph
 *   error envelope `{error:{message, type, code, error_subcode?, error_data?, fbtrace_id}}`.
 * - `GET /{version}/{phone-number-id}` describes the number to a token that may use it (190 for a
 *   wrong token, 100/33 for another account's number).
 * - The same endpoint takes read receipts with a typing indicator (`status: "read"`, scope = the
 *   inbound message id).
 * - `GET /_fake/sent?scope=` lists what was accepted for a recipient, with the wamid given.
 * Scope = the request's `to` (digits, as the Cloud API takes them), so each test uses its own
 * recipient.
 * Business numbers: the one given, more with `POST /_fake/accounts {accessToken, phoneNumberId}`,
 * or, with `anyAccount` (local development), any number with the first token it is called with.
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { type FakeRequest, type FakeState, recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

export interface FakeWhatsAppAccount {
  accessToken: string;
  phoneNumberId: string;
}

/** The business number matching the WHATSAPP_* bindings in vitest.config.ts. */
export const DEFAULT_FAKE_WHATSAPP_ACCOUNT: FakeWhatsAppAccount = { accessToken: "test-wa-token", phoneNumberId: "1234567890" };

/** A message the fake accepted: the request body plus the id it answered. */
export interface AcceptedWhatsAppMessage {
  id: string;
  phoneNumberId: string;
  message: Record<string, unknown>;
}

const MESSAGE_TYPES = ["text", "template", "image", "audio", "document", "video", "sticker", "location", "contacts", "interactive", "reaction"];

export function startFakeWhatsApp(account: FakeWhatsAppAccount = DEFAULT_FAKE_WHATSAPP_ACCOUNT, options: { anyAccount?: boolean } = {}) {
  const accepted: AcceptedWhatsAppMessage[] = [];
  // Access token by phone number id.
  const accounts = new Map<string, string>([[account.phoneNumberId, account.accessToken]]);

  /** `GET /{version}/{phone-number-id}`: the number as Graph describes it to a token that may use it. */
  function phoneNumber(req: FakeRequest, res: ServerResponse, phoneNumberId: string) {
    const bearer = /^Bearer\s+(\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (bearer && options.anyAccount && !accounts.has(phoneNumberId)) accounts.set(phoneNumberId, bearer);
    if (!bearer || ![...accounts.values()].includes(bearer)) {
      return graphError(res, 401, 190, "Invalid OAuth access token - Cannot parse access token", "OAuthException");
    }
    if (accounts.get(phoneNumberId) !== bearer) {
      return graphError(
        res,
        400,
        100,
        `Unsupported get request. Object with ID '${phoneNumberId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        "GraphMethodException",
        33,
      );
    }
    const digits = phoneNumberId.slice(-10).padStart(10, "5");
    return sendJson(res, 200, {
      verified_name: "Billx Test Shop",
      display_phone_number: `+1 ${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`,
      id: phoneNumberId,
      quality_rating: "GREEN",
    });
  }

  return startFake<never>((req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");

    if (req.method === "GET" && url.pathname === "/_fake/sent") {
      const to = url.searchParams.get("scope") ?? "";
      return sendJson(
        res,
        200,
        accepted.filter((m) => m.message.to === to),
      );
    }

    if (req.method === "POST" && url.pathname === "/_fake/accounts") {
      const body = (req.body ?? {}) as Partial<FakeWhatsAppAccount>;
      if (typeof body.accessToken !== "string" || typeof body.phoneNumberId !== "string") {
        return sendJson(res, 400, { error: { message: "accounts need accessToken and phoneNumberId" } });
      }
      accounts.set(body.phoneNumberId, body.accessToken);
      return sendJson(res, 204, null);
    }

    const number = /^\/(v\d+\.\d+)\/(\d+)$/.exec(url.pathname);
    if (number && req.method === "GET") return phoneNumber(req, res, number[2] ?? "");

    const route = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/.exec(url.pathname);
    if (!route || req.method !== "POST") return graphError(res, 400, 2500, `Unknown path components: ${url.pathname}`, "OAuthException");
    const phoneNumberId = route[2] ?? "";
    const bearer = /^Bearer\s+(\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (bearer && options.anyAccount && !accounts.has(phoneNumberId)) accounts.set(phoneNumberId, bearer);
    const expectedToken = accounts.get(phoneNumberId);
    // A token is checked before the number: a wrong one fails for any number.
    if (!bearer || ![...accounts.values()].includes(bearer)) {
      return graphError(res, 401, 190, "Invalid OAuth access token - Cannot parse access token", "OAuthException");
    }
    if (expectedToken !== bearer) {
      return graphError(
        res,
        400,
        100,
        `Unsupported post request. Object with ID '${phoneNumberId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
        "GraphMethodException",
        33,
      );
    }

    const body = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, unknown>;
    if (body.status !== undefined) return readReceipt(req, res, state, body);
    if (recordAndMaybeFail(req, res, state, typeof body.to === "string" ? body.to : "")) return;

    const missing = requiredParameterMissing(body);
    if (missing) return graphError(res, 400, 100, `(#100) The parameter ${missing} is required.`, "OAuthException");
    const type = body.type ?? "text";
    if (typeof type !== "string" || !MESSAGE_TYPES.includes(type)) {
      return graphError(
        res,
        400,
        100,
        `(#100) Param type must be one of {${MESSAGE_TYPES.map((t) => t.toUpperCase()).join(", ")}} - got "${String(type)}".`,
        "OAuthException",
      );
    }
    const to = String(body.to);
    if (!/^\+?[1-9]\d{6,14}$/.test(to)) {
      return graphError(
        res,
        400,
        131009,
        "(#131009) Parameter value is not valid",
        "OAuthException",
        undefined,
        "Recipient phone number is not a valid phone number",
      );
    }

    const id = `wamid.HBgL${randomBytes(27)
      .toString("base64")
      .replace(/[^A-Za-z0-9]/g, "A")}`;
    accepted.push({ id, phoneNumberId, message: body });
    const waId = to.replace(/^\+/, "");
    return sendJson(res, 200, {
      messaging_product: "whatsapp",
      contacts: [{ input: to, wa_id: waId }],
      // Template sends also report that Meta accepted the message for delivery.
      messages: [type === "template" ? { id, message_status: "accepted" } : { id }],
    });
  });
}

/**
 * `{messaging_product, status: "read", message_id, typing_indicator?: {type: "text"}}`: marks an
 * inbound message read (and shows "typing…"); answers `{success: true}`. Scope = the message id.
 */
function readReceipt(req: FakeRequest, res: ServerResponse, state: FakeState<never>, body: Record<string, unknown>) {
  const messageId = typeof body.message_id === "string" ? body.message_id : "";
  if (recordAndMaybeFail(req, res, state, messageId)) return;
  if (body.messaging_product !== "whatsapp") return graphError(res, 400, 100, "(#100) The parameter messaging_product is required.", "OAuthException");
  if (body.status !== "read") return graphError(res, 400, 100, `(#100) Param status must be one of {READ} - got "${String(body.status)}".`, "OAuthException");
  if (!messageId.startsWith("wamid.")) return graphError(res, 400, 100, "(#100) Invalid parameter: message_id", "OAuthException");
  const typing = body.typing_indicator as { type?: unknown } | undefined;
  if (typing !== undefined && typing?.type !== "text") {
    return graphError(res, 400, 100, "(#100) Param typing_indicator[type] must be one of {TEXT}", "OAuthException");
  }
  return sendJson(res, 200, { success: true });
}

/** The first required parameter that is missing, in Graph's `a['b']` notation, or null. */
function requiredParameterMissing(body: Record<string, unknown>): string | null {
  if (body.messaging_product !== "whatsapp") return "messaging_product";
  if (typeof body.to !== "string" || !body.to) return "to";
  const type = body.type ?? "text";
  const object = (body[String(type)] ?? undefined) as Record<string, unknown> | undefined;
  if (type === "text") {
    if (!object) return "text";
    if (typeof object.body !== "string" || !object.body) return "text['body']";
  }
  if (type === "template") {
    if (!object) return "template";
    if (typeof object.name !== "string" || !object.name) return "template['name']";
    const language = object.language as Record<string, unknown> | undefined;
    if (!language || typeof language.code !== "string") return "template['language']['code']";
  }
  if (type === "image") {
    if (!object) return "image";
    if (typeof object.link !== "string" && typeof object.id !== "string") return "image['link']";
  }
  return null;
}

function graphError(res: ServerResponse, status: number, code: number, message: string, type: string, subcode?: number, details?: string) {
  sendJson(res, status, {
    error: {
      message,
      type,
      code,
      ...(details ? { error_data: { messaging_product: "whatsapp", details } } : {}),
      ...(subcode === undefined ? {} : { error_subcode: subcode }),
      fbtrace_id: `A${randomBytes(11)
        .toString("base64")
        .replace(/[^A-Za-z0-9]/g, "_")}`,
    },
  });
}
