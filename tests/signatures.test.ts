import { describe, expect, it } from "vitest";
import { hubSignature256, twilioSignature, verifyHubSignature256, verifyTwilioSignature } from "../src/lib/signatures";
import hub from "./fixtures/webhooks/hub-signature-256.json";
import twilio from "./fixtures/webhooks/twilio-signature.json";

describe("webhook signature schemes against their published vectors", () => {
  it("computes Twilio's documented form-POST signature", async () => {
    expect(await twilioSignature(twilio.form.auth_token, twilio.form.url, twilio.form.params)).toBe(twilio.form.expected);
    expect(await verifyTwilioSignature(twilio.form.auth_token, twilio.form.url, twilio.form.params, twilio.form.expected)).toBe(true);
  });

  it("refuses a Twilio signature when a parameter, the URL or the token differs", async () => {
    const { auth_token, url, params, expected } = twilio.form;
    expect(await verifyTwilioSignature(auth_token, url, { ...params, Digits: "9999" }, expected)).toBe(false);
    expect(await verifyTwilioSignature(auth_token, url.replace("foo=1", "foo=2"), params, expected)).toBe(false);
    expect(await verifyTwilioSignature("54321", url, params, expected)).toBe(false);
    expect(await verifyTwilioSignature(auth_token, url, params, undefined)).toBe(false);
  });

  it("computes Twilio's JSON-body variant (bodySHA256 in the URL, no params)", async () => {
    expect(await twilioSignature(twilio.json_body.auth_token, twilio.json_body.url, {})).toBe(twilio.json_body.expected);
  });

  it("computes and verifies X-Hub-Signature-256", async () => {
    expect(await hubSignature256(hub.secret, hub.body)).toBe(hub.expected);
    expect(await verifyHubSignature256(hub.secret, hub.body, hub.expected)).toBe(true);
    expect(await verifyHubSignature256(hub.secret, `${hub.body} `, hub.expected)).toBe(false);
    expect(await verifyHubSignature256("another secret", hub.body, hub.expected)).toBe(false);
  });
});
