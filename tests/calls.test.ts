import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { phoneNumbers } from "../src/db/schema";
import type { Page } from "../src/lib/pagination";
import type { Assistant } from "../src/modules/assistants/assistants/service";
import type { PhoneNumber } from "../src/modules/calls/numbers/schemas";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

const twilioUrl = () => inject("twilioBaseUrl");

/** A number only this test uses, given to the fake Twilio account as if bought in its console. */
async function ownedNumber(): Promise<string> {
  const number = `+1737${String(Math.floor(Math.random() * 10_000_000)).padStart(7, "0")}`;
  const res = await fetch(`${twilioUrl()}/_fake/numbers`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ phone_number: number }),
  });
  if (res.status !== 201) throw new Error(`fake twilio: ${res.status}`);
  return number;
}

/** The number's IncomingPhoneNumber resource at the fake Twilio. */
async function atTwilio(number: string): Promise<{ sid: string; voice_url: string; status_callback: string }> {
  return (await fetch(`${twilioUrl()}/_fake/numbers/${encodeURIComponent(number)}`)).json();
}

async function createAssistant(who: SignedUp, name = "Ava"): Promise<Assistant> {
  const body = { name, business_name: "Bright Smile Dental", timezone: "America/Chicago" };
  return expectJson<Assistant>(await call("/v1/assistants", { token: who.access_token, orgId: who.orgId, body }), 201);
}

function attach(who: SignedUp, assistantId: string, body: Record<string, unknown>): Promise<Response> {
  return call(`/v1/assistants/${assistantId}/phone-numbers`, { token: who.access_token, orgId: who.orgId, body });
}

describe("Phone numbers of an assistant", () => {
  it("attaches an owned Twilio number, points its webhooks at us, and shows it on the assistant", async () => {
    const owner = await signUp("numbers");
    const assistant = await createAssistant(owner);
    const number = await ownedNumber();

    const attached = await expectJson<PhoneNumber>(await attach(owner, assistant.id, { phone_number: number }), 201);
    expect(attached).toMatchObject({ assistant_id: assistant.id, phone_number: number, twilio_sid: expect.stringMatching(/^PN/) });
    expect(attached.id).toMatch(/^pn_/);

    const twilio = await atTwilio(number);
    expect(twilio.voice_url).toBe("https://api.billx.test/v1/voice/twilio/incoming");
    expect(twilio.status_callback).toBe("https://api.billx.test/v1/voice/twilio/status");

    const list = await expectJson<Page<PhoneNumber>>(await call(`/v1/assistants/${assistant.id}/phone-numbers`, { token: owner.access_token }), 200);
    expect(list.data.map((n) => n.phone_number)).toEqual([number]);
    const shown = await expectJson<Assistant>(await call(`/v1/assistants/${assistant.id}`, { token: owner.access_token }), 200);
    expect(shown.phone_numbers).toEqual([number]);
  });

  it("buys a number in an area code, and says so when Twilio has none there", async () => {
    const owner = await signUp("buyer");
    const assistant = await createAssistant(owner);

    const bought = await expectJson<PhoneNumber>(await attach(owner, assistant.id, { area_code: "512" }), 201);
    expect(bought.phone_number).toMatch(/^\+1512\d{7}$/);
    expect((await atTwilio(bought.phone_number)).voice_url).toBe("https://api.billx.test/v1/voice/twilio/incoming");

    const none = await expectProblem(await attach(owner, assistant.id, { area_code: "999" }), 422);
    expect(none.errors?.[0]?.path).toBe("area_code");
  });

  it("refuses a number the Twilio account does not own, and a body with both or neither field", async () => {
    const owner = await signUp("notowned");
    const assistant = await createAssistant(owner);
    const refused = await expectProblem(await attach(owner, assistant.id, { phone_number: "+17375550000" }), 422);
    expect(refused.errors?.[0]?.path).toBe("phone_number");
    await expectProblem(await attach(owner, assistant.id, {}), 422);
    await expectProblem(await attach(owner, assistant.id, { phone_number: "+17375550000", area_code: "512" }), 422);
    await expectProblem(await attach(owner, assistant.id, { phone_number: "555-0100" }), 422);
    expect(await testCtx().db.select().from(phoneNumbers).where(eq(phoneNumbers.assistantId, assistant.id))).toEqual([]);
  });

  it("lets one number answer for one assistant only, in any organisation", async () => {
    const owner = await signUp("one-number");
    const first = await createAssistant(owner, "First");
    const second = await createAssistant(owner, "Second");
    const number = await ownedNumber();
    await expectJson(await attach(owner, first.id, { phone_number: number }), 201);

    await expectProblem(await attach(owner, second.id, { phone_number: number }), 409);
    const other = await signUp("other-org");
    await expectProblem(await attach(other, (await createAssistant(other)).id, { phone_number: number }), 409);
  });

  it("detaches a number and clears its Twilio webhooks", async () => {
    const owner = await signUp("detach");
    const assistant = await createAssistant(owner);
    const number = await ownedNumber();
    const attached = await expectJson<PhoneNumber>(await attach(owner, assistant.id, { phone_number: number }), 201);

    const path = `/v1/assistants/${assistant.id}/phone-numbers/${attached.id}`;
    expect((await call(path, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    expect(await atTwilio(number)).toMatchObject({ voice_url: "", status_callback: "" });
    await expectProblem(await call(path, { method: "DELETE", token: owner.access_token }), 404);
    const shown = await expectJson<Assistant>(await call(`/v1/assistants/${assistant.id}`, { token: owner.access_token }), 200);
    expect(shown.phone_numbers).toEqual([]);
  });
});
