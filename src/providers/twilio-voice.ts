import { z } from "zod";
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import { ProviderError } from "./errors";
import { providerFetch } from "./http";
import { describeTwilioError } from "./twilio";

/** The part of Twilio's IncomingPhoneNumber resource we use. */
const IncomingPhoneNumber = z.object({
  sid: z.string().regex(/^PN[0-9a-f]{32}$/),
  phone_number: z.string(),
  voice_url: z.string().nullable().optional(),
  status_callback: z.string().nullable().optional(),
});
export type IncomingPhoneNumber = z.infer<typeof IncomingPhoneNumber>;

const IncomingPhoneNumberList = z.object({ incoming_phone_numbers: z.array(IncomingPhoneNumber) });

/** The part of Twilio's Call resource we use. */
const CallResource = z.object({ sid: z.string().regex(/^CA[0-9a-f]{32}$/), status: z.string() });
export type TwilioCall = z.infer<typeof CallResource>;

/** Where Twilio tells us about a number's calls: the incoming-call webhook and the call status callback. */
export interface VoiceHooks {
  voiceUrl: string;
  statusCallback: string;
}

/** Twilio Programmable Voice: the account's numbers and its calls. */
export interface TwilioVoice {
  /** The account's number `phoneNumber` (E.164), or null when the account does not own it. */
  findNumber(phoneNumber: string): Promise<IncomingPhoneNumber | null>;
  /** Buys a number in `areaCode` with its webhooks set; Twilio answers 400 (code 21452) when it has none there. */
  buyNumber(areaCode: string, hooks: VoiceHooks): Promise<IncomingPhoneNumber>;
  /** Points a number's webhooks at `hooks`, or clears them (`null`) when it is detached. */
  setNumberHooks(sid: string, hooks: VoiceHooks | null): Promise<IncomingPhoneNumber>;
  /** Places a call that fetches its TwiML from `url` when answered, reporting its progress to `statusCallback`. */
  createCall(input: { to: string; from: string; url: string; statusCallback: string }): Promise<TwilioCall>;
  /** Changes a live call: new TwiML (a transfer) or `completed` (hang up). */
  updateCall(sid: string, change: { twiml: string } | { status: "completed" }): Promise<TwilioCall>;
}

/**
 * Twilio's IncomingPhoneNumbers and Calls REST APIs (2010-04-01), form-encoded with HTTP Basic
 * auth. Without `TWILIO_ACCOUNT_SID` or `TWILIO_AUTH_TOKEN` every verb raises `ProviderUnavailable`.
 */
export function twilioVoice(config: Config): TwilioVoice {
  const { accountSid, authToken, baseUrl } = config.twilio;
  const account = `${baseUrl.replace(/\/+$/, "")}/2010-04-01/Accounts/${encodeURIComponent(accountSid ?? "")}`;

  async function request<T>(schema: z.ZodType<T>, path: string, form?: Record<string, string> | URLSearchParams): Promise<T> {
    if (!accountSid) throw new ProviderUnavailable("TWILIO_ACCOUNT_SID");
    if (!authToken) throw new ProviderUnavailable("TWILIO_AUTH_TOKEN");
    const response = await providerFetch(
      "twilio",
      `${account}${path}`,
      {
        method: form ? "POST" : "GET",
        headers: {
          authorization: `Basic ${btoa(`${accountSid}:${authToken}`)}`,
          accept: "application/json",
          ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        },
        body: form ? new URLSearchParams(form).toString() : undefined,
      },
      describeTwilioError,
    );
    const parsed = schema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw new ProviderError("twilio", response.status, "bad_reply", false, `unexpected reply to ${path}`);
    return parsed.data;
  }

  const hookParams = (hooks: VoiceHooks | null): Record<string, string> => ({
    VoiceUrl: hooks?.voiceUrl ?? "",
    VoiceMethod: "POST",
    StatusCallback: hooks?.statusCallback ?? "",
    StatusCallbackMethod: "POST",
  });

  return {
    async findNumber(phoneNumber) {
      const list = await request(IncomingPhoneNumberList, `/IncomingPhoneNumbers.json?${new URLSearchParams({ PhoneNumber: phoneNumber })}`);
      return list.incoming_phone_numbers.find((n) => n.phone_number === phoneNumber) ?? null;
    },
    buyNumber: (areaCode, hooks) => request(IncomingPhoneNumber, "/IncomingPhoneNumbers.json", { AreaCode: areaCode, ...hookParams(hooks) }),
    setNumberHooks: (sid, hooks) => request(IncomingPhoneNumber, `/IncomingPhoneNumbers/${encodeURIComponent(sid)}.json`, hookParams(hooks)),
    createCall({ to, from, url, statusCallback }) {
      const form = new URLSearchParams({ To: to, From: from, Url: url, Method: "POST", StatusCallback: statusCallback, StatusCallbackMethod: "POST" });
      // Without these events Twilio reports only `completed`; we want to know when it rang and was answered.
      for (const event of ["initiated", "ringing", "answered", "completed"]) form.append("StatusCallbackEvent", event);
      return request(CallResource, "/Calls.json", form);
    },
    updateCall: (sid, change) =>
      request(CallResource, `/Calls/${encodeURIComponent(sid)}.json`, "twiml" in change ? { Twiml: change.twiml } : { Status: change.status }),
  };
}
