/**
 * A fake of Twilio Programmable Messaging (REST API 2010-04-01):
 * - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded, HTTP Basic
 *   AccountSid:AuthToken): checks the credentials and Twilio's required parameters, answers
 *   201 with Twilio's Message resource (`sid` SM…, status `queued`), or Twilio's error JSON
 *   `{code, message, more_info, status}` (20003 bad credentials, 21604/21603/21602 missing
 *   To/From/Body, 21211 invalid To, 21606 a From that is not the account's, 21617 too long).
 * - `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`: a message created here.
 * - `GET /_fake/sent?scope=` lists the Message resources created for a `To` number.
 * Scope = the `To` number, so each test uses its own recipient. Like Twilio's test credentials,
 * `+15005550001` as `To` is always refused with 21211.
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

export interface FakeTwilioAccount {
  sid: string;
  authToken: string;
  /** Numbers the account owns, usable as `From`. */
  numbers: string[];
}

/** The account matching the TWILIO_* bindings in vitest.config.ts. */
export const DEFAULT_FAKE_TWILIO_ACCOUNT: FakeTwilioAccount = {
  sid: "ACa1b2c3d4e5f60718293a4b5c6d7e8f90",
  authToken: "test-twilio-token",
  numbers: ["+15005550006"],
};

/** Twilio's documented magic `To` number that is always "not a valid phone number". */
export const TWILIO_INVALID_TO = "+15005550001";

/** Twilio's Message resource, as the REST API returns it. */
export interface TwilioMessageResource {
  account_sid: string;
  api_version: "2010-04-01";
  body: string;
  date_created: string;
  date_sent: string | null;
  date_updated: string;
  direction: "outbound-api";
  error_code: number | null;
  error_message: string | null;
  from: string;
  messaging_service_sid: string | null;
  num_media: string;
  num_segments: string;
  price: string | null;
  price_unit: string;
  sid: string;
  status: "queued";
  subresource_uris: { media: string };
  to: string;
  uri: string;
}

const E164 = /^\+[1-9]\d{6,14}$/;
// Twilio refuses a message body longer than 1600 characters (error 21617).
const MAX_BODY = 1600;

export function startFakeTwilio(account: FakeTwilioAccount = DEFAULT_FAKE_TWILIO_ACCOUNT) {
  const messages = new Map<string, TwilioMessageResource>();

  return startFake<never>((req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");

    if (req.method === "GET" && url.pathname === "/_fake/sent") {
      const to = url.searchParams.get("scope") ?? "";
      return sendJson(
        res,
        200,
        [...messages.values()].filter((m) => m.to === to),
      );
    }

    const route = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages(?:\/([^/]+))?\.json$/.exec(url.pathname);
    if (!route) return twilioError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
    const [, pathSid, messageSid] = route;
    if (!authenticated(req.headers.authorization, account)) {
      return sendJson(
        res,
        401,
        { code: 20003, detail: "Your AccountSid or AuthToken was incorrect.", message: "Authenticate", more_info: moreInfo(20003), status: 401 },
        { "www-authenticate": 'Basic realm="Twilio API"' },
      );
    }
    if (pathSid !== account.sid) return twilioError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);

    if (req.method === "GET" && messageSid) {
      const message = messages.get(messageSid);
      return message ? sendJson(res, 200, message) : twilioError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
    }
    if (req.method !== "POST" || messageSid) return twilioError(res, 405, 20004, "Method not allowed");

    if (!String(req.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")) {
      return twilioError(res, 400, 21604, "A 'To' phone number is required.");
    }
    const form = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, string | undefined>;
    if (recordAndMaybeFail(req, res, state, form.To ?? "")) return;

    if (!form.To) return twilioError(res, 400, 21604, "A 'To' phone number is required.");
    if (!form.From) return twilioError(res, 400, 21603, "A 'From' phone number is required.");
    if (!form.Body && !form.MediaUrl) return twilioError(res, 400, 21602, "Message body is required.");
    if (!E164.test(form.To) || form.To === TWILIO_INVALID_TO) return twilioError(res, 400, 21211, `The 'To' number ${form.To} is not a valid phone number.`);
    if (!account.numbers.includes(form.From)) {
      return twilioError(
        res,
        400,
        21606,
        `The From phone number ${form.From} is not a valid, SMS-capable inbound phone number or short code for your account.`,
      );
    }
    if ((form.Body ?? "").length > MAX_BODY) return twilioError(res, 400, 21617, "The concatenated message body exceeds the 1600 character limit.");

    const sid = `${form.MediaUrl ? "MM" : "SM"}${randomBytes(16).toString("hex")}`;
    const now = rfc2822(new Date());
    const uri = `/2010-04-01/Accounts/${account.sid}/Messages/${sid}.json`;
    const body = form.Body ?? "";
    const message: TwilioMessageResource = {
      account_sid: account.sid,
      api_version: "2010-04-01",
      body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: "outbound-api",
      error_code: null,
      error_message: null,
      from: form.From,
      messaging_service_sid: null,
      num_media: form.MediaUrl ? "1" : "0",
      // GSM-7 segments: 160 characters alone, 153 each when concatenated.
      num_segments: String(body.length <= 160 ? 1 : Math.ceil(body.length / 153)),
      price: null,
      price_unit: "USD",
      sid,
      status: "queued",
      subresource_uris: { media: `/2010-04-01/Accounts/${account.sid}/Messages/${sid}/Media.json` },
      to: form.To,
      uri,
    };
    messages.set(sid, message);
    return sendJson(res, 201, message);
  });
}

function authenticated(header: string | undefined, account: FakeTwilioAccount): boolean {
  const basic = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!basic?.[1]) return false;
  const decoded = Buffer.from(basic[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return decoded.slice(0, colon) === account.sid && decoded.slice(colon + 1) === account.authToken;
}

function moreInfo(code: number): string {
  return `https://www.twilio.com/docs/errors/${code}`;
}

function twilioError(res: ServerResponse, status: number, code: number, message: string) {
  sendJson(res, status, { code, message, more_info: moreInfo(code), status });
}

/** Twilio's date format, e.g. "Thu, 24 Aug 2023 05:01:45 +0000". */
function rfc2822(date: Date): string {
  return date.toUTCString().replace("GMT", "+0000");
}
