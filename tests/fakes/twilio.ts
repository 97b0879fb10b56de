/**
 * A fake of Twilio Programmable Messaging (REST API 2010-04-01):
 * - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded, HTTP Basic
 *   AccountSid:AuthToken): checks the credentials and Twilio's required parameters, answers
 *   201 with Twilio's Message resource (`sid` SM…, status `queued`), or Twilio's error JSON
 *   `{code, message, more_info, status}` (20003 bad credentials, 21604/21603/21602 missing
 *   To/From/Body, 21211 invalid To, 21606 a From that is not the account's, 21617 too long).
 * - `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`: a message created here.
 * - `GET /_fake/sent?scope=` lists the Message resources created for a `To` number.
 * Programmable Voice:
 * - `GET .../IncomingPhoneNumbers.json?PhoneNumber=` lists the account's numbers (filtered);
 *   `POST .../IncomingPhoneNumbers.json` with `AreaCode` buys one there (21452 for area code 999,
 *   where there are none), with `PhoneNumber` buys that one; `VoiceUrl`, `StatusCallback` and their
 *   methods are kept; `POST .../IncomingPhoneNumbers/{PN…}.json` updates them.
 * - `POST .../Calls.json` (`To`, `From` one of the account's numbers, `Url` or `Twiml`) answers a
 *   queued Call resource (`CA…`); `POST .../Calls/{CA…}.json` takes `Twiml` or `Status`
 *   (`completed`/`canceled`). Requests are recorded under the `To` number. Real Twilio updates
 *   any live call of the account, inbound ones included: a well-formed CallSid the fake never
 *   created is taken as a live inbound call, and its updates are recorded under the CallSid.
 * - `POST /_fake/numbers {phone_number}` gives the account a number (as if bought in the console);
 *   `GET /_fake/numbers/{E.164}` answers its IncomingPhoneNumber resource (404 when not the account's).
 *   IncomingPhoneNumbers requests are recorded under the number (the `AreaCode` for a purchase).
 * Scope = the `To` number, so each test uses its own recipient. Like Twilio's test credentials,
 * `+15005550001` as `To` is always refused with 21211.
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { type FakeRequest, type FakeState, recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

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
  const voice = fakeVoice(account);

  return startFake<never>((req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (voice.handle(req, res, state, url)) return;

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

/** Twilio's IncomingPhoneNumber resource, as the REST API returns it (the fields we fake). */
export interface TwilioIncomingPhoneNumber {
  account_sid: string;
  api_version: "2010-04-01";
  capabilities: { voice: boolean; sms: boolean; mms: boolean; fax: boolean };
  date_created: string;
  date_updated: string;
  friendly_name: string;
  phone_number: string;
  sid: string;
  sms_url: string;
  status: "in-use";
  status_callback: string;
  status_callback_method: string;
  uri: string;
  voice_method: string;
  voice_url: string;
}

/** Twilio's Call resource (the fields we fake). */
export interface TwilioCallResource {
  account_sid: string;
  api_version: "2010-04-01";
  date_created: string;
  date_updated: string;
  direction: "outbound-api" | "inbound";
  duration: string | null;
  from: string;
  sid: string;
  status: "queued" | "in-progress" | "completed" | "canceled";
  to: string;
  uri: string;
}

const CALL_SID = /^CA[0-9a-f]{32}$/;

// Twilio's "no phone numbers found in this area code" (error 21452) for this code.
const AREA_CODE_WITHOUT_NUMBERS = "999";

/** The Programmable Voice part of the fake: the account's numbers and its calls. */
function fakeVoice(account: FakeTwilioAccount) {
  const numbers = new Map<string, TwilioIncomingPhoneNumber>();
  const calls = new Map<string, TwilioCallResource>();
  const base = `/2010-04-01/Accounts/${account.sid}`;

  const own = (phoneNumber: string): TwilioIncomingPhoneNumber => {
    const existing = [...numbers.values()].find((n) => n.phone_number === phoneNumber);
    if (existing) return existing;
    const sid = `PN${randomBytes(16).toString("hex")}`;
    const now = rfc2822(new Date());
    const resource: TwilioIncomingPhoneNumber = {
      account_sid: account.sid,
      api_version: "2010-04-01",
      capabilities: { voice: true, sms: true, mms: true, fax: false },
      date_created: now,
      date_updated: now,
      friendly_name: phoneNumber,
      phone_number: phoneNumber,
      sid,
      sms_url: "",
      status: "in-use",
      status_callback: "",
      status_callback_method: "POST",
      uri: `${base}/IncomingPhoneNumbers/${sid}.json`,
      voice_method: "POST",
      voice_url: "",
    };
    numbers.set(sid, resource);
    return resource;
  };
  for (const number of account.numbers) own(number);

  const applyHooks = (resource: TwilioIncomingPhoneNumber, form: Record<string, string | undefined>) => {
    if (form.VoiceUrl !== undefined) resource.voice_url = form.VoiceUrl;
    if (form.VoiceMethod !== undefined) resource.voice_method = form.VoiceMethod;
    if (form.StatusCallback !== undefined) resource.status_callback = form.StatusCallback;
    if (form.StatusCallbackMethod !== undefined) resource.status_callback_method = form.StatusCallbackMethod;
    resource.date_updated = rfc2822(new Date());
  };

  /** A call someone made to one of the account's numbers: the fake never saw it start, Twilio would know it. */
  const liveInboundCall = (sid: string): TwilioCallResource | undefined => {
    if (!CALL_SID.test(sid)) return undefined;
    const now = rfc2822(new Date());
    const [number] = account.numbers;
    const call: TwilioCallResource = {
      account_sid: account.sid,
      api_version: "2010-04-01",
      date_created: now,
      date_updated: now,
      direction: "inbound",
      duration: null,
      from: "",
      sid,
      status: "in-progress",
      to: number ?? "",
      uri: `${base}/Calls/${sid}.json`,
    };
    calls.set(sid, call);
    return call;
  };

  return {
    /** Answers a voice request (or a voice control request); false when the path is not one. */
    handle(req: FakeRequest, res: ServerResponse, state: FakeState<never>, url: URL): boolean {
      if (url.pathname === "/_fake/numbers" && req.method === "POST") {
        const phoneNumber = String((req.body as { phone_number?: unknown }).phone_number ?? "");
        if (!E164.test(phoneNumber)) sendJson(res, 400, { error: { message: "phone_number must be E.164" } });
        else sendJson(res, 201, own(phoneNumber));
        return true;
      }
      const control = /^\/_fake\/numbers\/([^/]+)$/.exec(url.pathname);
      if (control && req.method === "GET") {
        const phoneNumber = decodeURIComponent(control[1] ?? "");
        const found = [...numbers.values()].find((n) => n.phone_number === phoneNumber);
        if (found) sendJson(res, 200, found);
        else sendJson(res, 404, { error: { message: `${phoneNumber} is not the account's` } });
        return true;
      }

      const route = /^\/2010-04-01\/Accounts\/([^/]+)\/(IncomingPhoneNumbers|Calls)(?:\/([^/]+))?\.json$/.exec(url.pathname);
      if (!route) return false;
      const [, pathSid, collection, itemSid] = route;
      if (!authenticated(req.headers.authorization, account)) {
        sendJson(res, 401, { code: 20003, message: "Authenticate", more_info: moreInfo(20003), status: 401 });
        return true;
      }
      if (pathSid !== account.sid) {
        twilioError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
        return true;
      }
      const form = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, string | undefined>;

      if (collection === "IncomingPhoneNumbers") {
        if (req.method === "GET" && !itemSid) {
          const filter = url.searchParams.get("PhoneNumber");
          const list = [...numbers.values()].filter((n) => !filter || n.phone_number === filter);
          sendJson(res, 200, { incoming_phone_numbers: list, page: 0, page_size: 50, uri: `${url.pathname}${url.search}`, next_page_uri: null });
          return true;
        }
        if (req.method !== "POST") {
          twilioError(res, 405, 20004, "Method not allowed");
          return true;
        }
        if (itemSid) {
          const resource = numbers.get(itemSid);
          if (recordAndMaybeFail(req, res, state, resource?.phone_number ?? itemSid)) return true;
          if (!resource) twilioError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
          else {
            applyHooks(resource, form);
            sendJson(res, 200, resource);
          }
          return true;
        }
        if (recordAndMaybeFail(req, res, state, form.PhoneNumber ?? form.AreaCode ?? "")) return true;
        if (!form.PhoneNumber && !form.AreaCode) {
          twilioError(res, 400, 21421, "PhoneNumber or AreaCode is required.");
          return true;
        }
        if (form.AreaCode && !/^\d{3}$/.test(form.AreaCode)) {
          twilioError(res, 400, 21451, "Invalid area code.");
          return true;
        }
        if (form.AreaCode === AREA_CODE_WITHOUT_NUMBERS) {
          twilioError(res, 400, 21452, `No phone numbers found in area code ${form.AreaCode}.`);
          return true;
        }
        const phoneNumber = form.PhoneNumber ?? `+1${form.AreaCode}${String(randomBytes(4).readUInt32BE() % 10_000_000).padStart(7, "0")}`;
        const resource = own(phoneNumber);
        applyHooks(resource, form);
        sendJson(res, 201, resource);
        return true;
      }

      // Calls
      if (req.method !== "POST") {
        twilioError(res, 405, 20004, "Method not allowed");
        return true;
      }
      if (itemSid) {
        const call = calls.get(itemSid) ?? liveInboundCall(itemSid);
        if (recordAndMaybeFail(req, res, state, call?.direction === "inbound" ? itemSid : (call?.to ?? itemSid))) return true;
        if (!call) twilioError(res, 404, 20404, `The requested resource ${url.pathname} was not found`);
        else if (!form.Twiml && !form.Url && !form.Status) twilioError(res, 400, 21218, "Invalid application parameters: Twiml, Url or Status is required.");
        else {
          if (form.Status === "completed" || form.Status === "canceled") call.status = form.Status;
          call.date_updated = rfc2822(new Date());
          sendJson(res, 200, call);
        }
        return true;
      }
      if (recordAndMaybeFail(req, res, state, form.To ?? "")) return true;
      if (!form.To) twilioError(res, 400, 21201, "No 'To' number is specified.");
      else if (!form.From) twilioError(res, 400, 21213, "No 'From' number is specified.");
      else if (!form.Url && !form.Twiml) twilioError(res, 400, 21205, "Url parameter is required.");
      else if (!E164.test(form.To)) twilioError(res, 400, 21211, `Invalid 'To' Phone Number: ${form.To}`);
      else if (![...numbers.values()].some((n) => n.phone_number === form.From)) {
        twilioError(res, 400, 21210, `The source phone number provided, ${form.From}, is not yet verified for your account.`);
      } else {
        const sid = `CA${randomBytes(16).toString("hex")}`;
        const now = rfc2822(new Date());
        const call: TwilioCallResource = {
          account_sid: account.sid,
          api_version: "2010-04-01",
          date_created: now,
          date_updated: now,
          direction: "outbound-api",
          duration: null,
          from: form.From,
          sid,
          status: "queued",
          to: form.To,
          uri: `${base}/Calls/${sid}.json`,
        };
        calls.set(sid, call);
        sendJson(res, 201, call);
      }
      return true;
    },
  };
}
