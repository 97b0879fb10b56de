import { SELF } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { agentEvents, assistants, calls, creditBalances, creditLedger, creditReservations, knowledgeDocuments, phoneNumbers } from "../src/db/schema";
import type { Page } from "../src/lib/pagination";
import { twilioSignature } from "../src/lib/signatures";
import type { Assistant } from "../src/modules/assistants/assistants/service";
import type { PhoneNumber } from "../src/modules/calls/numbers/schemas";
import type { Call } from "../src/modules/calls/records/schemas";
import { appendTurn, extendCallHold, finalizeCall, markAnswered } from "../src/modules/calls/records/service";
import { sweepStaleCalls } from "../src/modules/calls/records/sweep";
import { systemActor } from "../src/modules/identity/auth/principal";
import { cronJobs } from "../src/scheduled";
import { call, expectJson, joinOrgAs, type SignedUp, signUp, uniqueIp } from "./harness/api";
import { expectProblem, setCreditBalance, testCtx } from "./harness/helpers";

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

    const none = await expectProblem(await attach(owner, assistant.id, { area_code: "999" }), 422);
    expect(none.errors?.[0]?.path).toBe("area_code");

    const bought = await expectJson<PhoneNumber>(await attach(owner, assistant.id, { area_code: "512" }), 201);
    expect(bought.phone_number).toMatch(/^\+1512\d{7}$/);
    expect((await atTwilio(bought.phone_number)).voice_url).toBe("https://api.billx.test/v1/voice/twilio/incoming");
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

  it("allows the free plan one number, answering 403 naming the plan for a second, even in another assistant", async () => {
    const owner = await signUp("number-limit");
    await expectJson(await attach(owner, (await createAssistant(owner, "First")).id, { phone_number: await ownedNumber() }), 201);
    const second = await ownedNumber();
    const refused = await expectProblem(await attach(owner, (await createAssistant(owner, "Second")).id, { phone_number: second }), 403);
    expect(refused).toMatchObject({ type: "https://billx.dev/problems/plan-limit", plan: "free", limit: "phone_numbers", allowed: 1 });
    // Refused before Twilio: the second number's webhooks were never pointed at us.
    expect((await atTwilio(second)).voice_url).toBe("");
    expect(await testCtx().db.select().from(phoneNumbers).where(eq(phoneNumbers.orgId, owner.orgId))).toHaveLength(1);
  });

  it("lets exactly one of two racing attaches take a free organisation's one place", async () => {
    const owner = await signUp("number-race");
    const assistant = await createAssistant(owner);
    const numbers = [await ownedNumber(), await ownedNumber()];
    const results = await Promise.all(numbers.map((number) => attach(owner, assistant.id, { phone_number: number })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 403]);
    expect(await testCtx().db.select().from(phoneNumbers).where(eq(phoneNumbers.orgId, owner.orgId))).toHaveLength(1);
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

type Onboarded = { assistant: Assistant; documents: { id: string; status: string }[]; phone_number: PhoneNumber | null; message: string };

/** `POST /v1/assistants/onboard` with text parts `fields` and the knowledge files `files`. */
function onboard(
  who: SignedUp,
  fields: Record<string, string>,
  files: { name: string; content: string }[] = [],
  headers: Record<string, string> = {},
): Promise<Response> {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  for (const file of files) form.append("files", new File([file.content], file.name, { type: "text/plain" }));
  return SELF.fetch("http://api.test/v1/assistants/onboard", {
    method: "POST",
    headers: { Authorization: `Bearer ${who.access_token}`, "X-Org-Id": who.orgId, "CF-Connecting-IP": uniqueIp(), ...headers },
    body: form,
  });
}

const ONBOARD_FIELDS = {
  name: "Ava",
  business_name: "Bright Smile Dental",
  timezone: "America/Chicago",
  weekly_hours: JSON.stringify({ mon: [["09:00", "17:00"]], fri: [["09:00", "12:00"]] }),
  tools: JSON.stringify(["check_availability", "book_appointment"]),
};
const FAQ = [
  { name: "faq.md", content: "# Opening hours\nWe open at nine on Mondays." },
  { name: "prices.txt", content: "A cleaning costs eighty dollars." },
];

async function orgRows(orgId: string) {
  const db = testCtx().db;
  return {
    assistants: await db.select().from(assistants).where(eq(assistants.orgId, orgId)),
    documents: await db.select().from(knowledgeDocuments).where(eq(knowledgeDocuments.orgId, orgId)),
    numbers: await db.select().from(phoneNumbers).where(eq(phoneNumbers.orgId, orgId)),
  };
}

describe("One-step onboarding", () => {
  it("creates the assistant, queues its documents and attaches its number, saying where to forward calls", async () => {
    const owner = await signUp("onboard");
    const number = await ownedNumber();
    const done = await expectJson<Onboarded>(await onboard(owner, { ...ONBOARD_FIELDS, phone_number: number }, FAQ), 201);
    expect(done.assistant).toMatchObject({ name: "Ava", tools: ["check_availability", "book_appointment"], phone_numbers: [number] });
    expect(done.assistant.weekly_hours).toMatchObject({ mon: [["09:00", "17:00"]] });
    expect(done.documents.map((d) => d.status)).toEqual(["queued", "queued"]);
    expect(done.phone_number).toMatchObject({ phone_number: number, assistant_id: done.assistant.id });
    expect(done.message).toBe(`Forward calls to ${number}`);
    expect((await atTwilio(number)).voice_url).toBe("https://api.billx.test/v1/voice/twilio/incoming");
    const rows = await orgRows(owner.orgId);
    expect(rows.documents.map((d) => d.assistantId)).toEqual([done.assistant.id, done.assistant.id]);
    expect(rows.numbers).toHaveLength(1);
  });

  it("buys a number in an area code, and onboards without one when none is asked for", async () => {
    const owner = await signUp("onboard-buy");
    const bought = await expectJson<Onboarded>(await onboard(owner, { ...ONBOARD_FIELDS, area_code: "512" }), 201);
    expect(bought.phone_number?.phone_number).toMatch(/^\+1512\d{7}$/);
    expect(bought.message).toBe(`Forward calls to ${bought.phone_number?.phone_number}`);

    const other = await signUp("onboard-bare");
    const bare = await expectJson<Onboarded>(await onboard(other, ONBOARD_FIELDS), 201);
    expect(bare).toMatchObject({ documents: [], phone_number: null, message: expect.stringContaining("No number attached") });
  });

  it("refuses bad JSON, bad fields, a bad number or both number fields with 422 naming the part, creating nothing", async () => {
    const owner = await signUp("onboard-bad");
    const number = await ownedNumber();
    const badJson = await expectProblem(await onboard(owner, { ...ONBOARD_FIELDS, weekly_hours: "{mon: 9-5", phone_number: number }, FAQ), 422);
    expect(badJson.errors?.[0]?.path).toBe("weekly_hours");
    const badHours = await expectProblem(await onboard(owner, { ...ONBOARD_FIELDS, weekly_hours: JSON.stringify({ mon: [["17:00", "09:00"]] }) }, FAQ), 422);
    expect(badHours.errors?.[0]?.path).toMatch(/^weekly_hours/);
    const badNumber = await expectProblem(await onboard(owner, { ...ONBOARD_FIELDS, phone_number: "555-0100" }), 422);
    expect(badNumber.errors?.map((e) => e.path)).toEqual(["phone_number"]);
    await expectProblem(await onboard(owner, { ...ONBOARD_FIELDS, phone_number: number, area_code: "512" }), 422);
    await expectProblem(await onboard(owner, { ...ONBOARD_FIELDS, phone_number: number }, [{ name: "empty.txt", content: "" }]), 422);
    expect(await orgRows(owner.orgId)).toEqual({ assistants: [], documents: [], numbers: [] });
    expect((await atTwilio(number)).voice_url).toBe("");
  });

  it("keeps the assistant and documents when Twilio fails the attach, and says so", async () => {
    const owner = await signUp("onboard-twilio-down");
    const number = await ownedNumber();
    const failure = { status: 500, body: { code: 20500, message: "Internal Server Error", status: 500 } };
    await fetch(`${twilioUrl()}/_fake/failures`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scope: number, failures: [failure] }),
    });
    const response = await onboard(owner, { ...ONBOARD_FIELDS, phone_number: number }, FAQ);
    expect(response.status).toBeGreaterThanOrEqual(502);
    const problem = (await response.json()) as { kept: { assistant_id: string; document_ids: string[] }; detail: string };
    const rows = await orgRows(owner.orgId);
    expect(problem.kept).toEqual({ assistant_id: rows.assistants[0]?.id, document_ids: expect.arrayContaining(rows.documents.map((d) => d.id)) });
    expect(problem.kept.document_ids).toHaveLength(2);
    expect(rows.numbers).toEqual([]);
    expect(problem.detail).toContain(`/v1/assistants/${problem.kept.assistant_id}/phone-numbers`);
    // The retry the problem names works.
    await expectJson(await attach(owner, problem.kept.assistant_id, { phone_number: number }), 201);
  });

  it("with an Idempotency-Key, a retry after Twilio failed finishes the attach on the same assistant, and a repeat changes nothing", async () => {
    const owner = await signUp("onboard-idem");
    const number = await ownedNumber();
    await fetch(`${twilioUrl()}/_fake/failures`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scope: number, failures: [{ status: 500, body: { code: 20500, message: "Internal Server Error", status: 500 } }] }),
    });
    const key = { "Idempotency-Key": "onboard-ava-1" };
    const fields = { ...ONBOARD_FIELDS, phone_number: number };
    const failed = await onboard(owner, fields, FAQ, key);
    expect(failed.status).toBeGreaterThanOrEqual(502);
    const { kept } = (await failed.json()) as { kept: { assistant_id: string; document_ids: string[] } };

    const finished = await expectJson<Onboarded>(await onboard(owner, fields, FAQ, key), 200);
    expect(finished.assistant).toMatchObject({ id: kept.assistant_id, phone_numbers: [number] });
    expect(finished.documents.map((d) => d.id).sort()).toEqual([...kept.document_ids].sort());
    expect(finished.message).toBe(`Forward calls to ${number}`);
    expect((await atTwilio(number)).voice_url).toBe("https://api.billx.test/v1/voice/twilio/incoming");

    // The whole request again: the same answer, still one of everything (the free plan's one
    // number is not asked for twice, so no 403 either).
    const again = await expectJson<Onboarded>(await onboard(owner, fields, FAQ, key), 200);
    expect(again.phone_number?.id).toBe(finished.phone_number?.id);
    const rows = await orgRows(owner.orgId);
    expect([rows.assistants.length, rows.documents.length, rows.numbers.length]).toEqual([1, 2, 1]);

    // The key with other fields or other files is someone else's request.
    await expectProblem(await onboard(owner, { ...fields, name: "Bea" }, FAQ, key), 409);
    await expectProblem(await onboard(owner, fields, [FAQ[0] as (typeof FAQ)[number]], key), 409);
    expect((await orgRows(owner.orgId)).assistants).toHaveLength(1);
  });

  it("with an Idempotency-Key, racing repeats make one assistant and buy one number", async () => {
    const owner = await signUp("onboard-idem-race");
    const key = { "Idempotency-Key": "onboard-race" };
    const responses = await Promise.all(Array.from({ length: 3 }, () => onboard(owner, { ...ONBOARD_FIELDS, area_code: "512" }, FAQ, key)));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<Onboarded>));
    expect(new Set(bodies.map((b) => b.assistant.id)).size).toBe(1);
    expect(new Set(bodies.map((b) => b.phone_number?.phone_number)).size).toBe(1);
    const rows = await orgRows(owner.orgId);
    expect([rows.assistants.length, rows.documents.length, rows.numbers.length]).toEqual([1, 2, 1]);
  });

  it("needs permission to write assistants", async () => {
    const owner = await signUp("onboard-perm");
    const viewer = await joinOrgAs(owner, "viewer");
    await expectProblem(await onboard({ ...viewer, orgId: owner.orgId }, ONBOARD_FIELDS, FAQ), 403);
    expect((await orgRows(owner.orgId)).assistants).toEqual([]);
  });
});

// The account and public URL of vitest.config.ts: Twilio signs what it called under PUBLIC_API_URL.
const TWILIO_AUTH_TOKEN = "test-twilio-token";
const PUBLIC = "https://api.billx.test";

function callSid(): string {
  return `CA${[...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A form post from Twilio to `path`, signed unless `signature` says otherwise. */
async function twilioPost(path: string, params: Record<string, string>, signature?: string): Promise<Response> {
  const signed = signature ?? (await twilioSignature(TWILIO_AUTH_TOKEN, `${PUBLIC}${path}`, params));
  return SELF.fetch(`http://api.test${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed },
    body: new URLSearchParams(params).toString(),
  });
}

function incoming(params: Record<string, string>, signature?: string) {
  return twilioPost(
    "/v1/voice/twilio/incoming",
    { AccountSid: "ACa1b2c3d4e5f60718293a4b5c6d7e8f90", CallStatus: "ringing", Direction: "inbound", ...params },
    signature,
  );
}

/** An organisation with an assistant answering a number of its own. */
async function receptionist(label: string) {
  const owner = await signUp(label);
  const assistant = await createAssistant(owner);
  const number = await ownedNumber();
  await expectJson(await attach(owner, assistant.id, { phone_number: number }), 201);
  return { owner, assistant, number };
}

/** The stream URL of `<Stream url="...">` in TwiML. */
function streamUrl(twiml: string): string {
  const url = /<Stream url="([^"]+)"/.exec(twiml)?.[1];
  if (!url) throw new Error(`no stream in ${twiml}`);
  return url;
}

function upgrade(path: string): Promise<Response> {
  return SELF.fetch(`http://api.test${path}`, { headers: { Upgrade: "websocket" } });
}

const callBySid = async (sid: string) => (await testCtx().db.select().from(calls).where(eq(calls.callSid, sid)))[0];

describe("Twilio incoming calls", () => {
  it("refuses a forged webhook with 403 and opens no call", async () => {
    const { number } = await receptionist("forged");
    const sid = callSid();
    const forged = await incoming({ CallSid: sid, From: "+14155550100", To: number }, "bm90LWEtc2lnbmF0dXJl");
    await expectProblem(forged, 403);
    expect(await callBySid(sid)).toBeUndefined();
  });

  it("tells a caller of an unknown number so and hangs up", async () => {
    const response = await incoming({ CallSid: callSid(), From: "+14155550100", To: "+17370000000" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/xml");
    const twiml = await response.text();
    expect(twiml).toMatch(/<Say>[^<]*not in service[^<]*<\/Say><Hangup\/>/);
    expect(twiml).not.toContain("<Stream");
  });

  it("says goodbye with no stream when the organisation cannot pay for a minimum call", async () => {
    const { owner, number } = await receptionist("broke");
    await setCreditBalance(owner.orgId, 10);
    const sid = callSid();
    const twiml = await (await incoming({ CallSid: sid, From: "+14155550100", To: number })).text();
    expect(twiml).toMatch(/<Say>[^<]+<\/Say><Hangup\/>/);
    expect(twiml).not.toContain("<Stream");
    expect(await callBySid(sid)).toBeUndefined();
    const holds = await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId));
    expect(holds).toEqual([]);
  });

  it("connects a paid-for call to a stream whose token works once", async () => {
    const { owner, assistant, number } = await receptionist("happy");
    const sid = callSid();
    const response = await incoming({ CallSid: sid, From: "+14155550100", To: number });
    const twiml = await response.text();
    expect(twiml).toMatch(/^<\?xml[^>]*\?><Response><Connect><Stream url="wss:\/\/api\.billx\.test\/v1\/voice\/twilio\/stream\/CA[0-9a-f]{32}\/[0-9a-f]{64}">/);
    expect(twiml).toContain(`<Parameter name="assistant_id" value="${assistant.id}"/>`);

    const row = await callBySid(sid);
    expect(row).toMatchObject({
      orgId: owner.orgId,
      assistantId: assistant.id,
      fromNumber: "+14155550100",
      toNumber: number,
      direction: "inbound",
      status: "ringing",
    });
    const [hold] = await testCtx()
      .db.select()
      .from(creditReservations)
      .where(eq(creditReservations.id, row?.reservationId ?? ""));
    expect(hold).toMatchObject({ status: "held", feature: "calls.realtime", amount: 72 });
    const url = new URL(streamUrl(twiml));
    expect(row?.streamTokenHash).not.toContain(url.pathname.split("/").at(-1));

    const signature = await twilioSignature(TWILIO_AUTH_TOKEN, url.toString(), {});
    const opened = await SELF.fetch(`http://api.test${url.pathname}`, { headers: { Upgrade: "websocket", "X-Twilio-Signature": signature } });
    expect(opened.status).toBe(101);
    opened.webSocket?.accept();
    opened.webSocket?.close(1000, "test done");
    await expectProblem(await upgrade(url.pathname), 403);
  });

  it("answers Twilio's retry of one call with a new token, one row and one hold", async () => {
    const { owner, number } = await receptionist("retry");
    const sid = callSid();
    const first = streamUrl(await (await incoming({ CallSid: sid, From: "+14155550100", To: number })).text());
    const second = streamUrl(await (await incoming({ CallSid: sid, From: "+14155550100", To: number })).text());
    expect(second).not.toBe(first);
    expect(await testCtx().db.select().from(calls).where(eq(calls.callSid, sid))).toHaveLength(1);
    const holds = await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId));
    expect(holds.map((h) => h.status).sort()).toEqual(["held", "released"]);
    // Only the newest token opens the stream.
    await expectProblem(await upgrade(new URL(first).pathname), 403);
  });

  it("refuses a stream with a missing, wrong or expired token, or for an unknown call", async () => {
    const { number } = await receptionist("tokens");
    const sid = callSid();
    const url = new URL(streamUrl(await (await incoming({ CallSid: sid, From: "+14155550100", To: number })).text()));
    const base = `/v1/voice/twilio/stream/${sid}`;

    await expectProblem(await upgrade(base), 401);
    // Twilio signs the upgrade over the wss:// URL it opened: a forged signature is refused even with the right token.
    const forged = await SELF.fetch(`http://api.test${url.pathname}`, { headers: { Upgrade: "websocket", "X-Twilio-Signature": "Zm9yZ2Vk" } });
    await expectProblem(forged, 403);
    await expectProblem(await upgrade(`${base}/${"0".repeat(64)}`), 403);
    await expectProblem(await upgrade(`/v1/voice/twilio/stream/${callSid()}/${"0".repeat(64)}`), 404);
    await testCtx()
      .db.update(calls)
      .set({ streamTokenExpiresAt: new Date(Date.now() - 1000) })
      .where(eq(calls.callSid, sid));
    await expectProblem(await upgrade(url.pathname), 403);
  });
});

/** The call's hold is settled and the whole of it came back in one release. */
async function expectSettledOnceWithNothingCharged(orgId: string, reservationId: string | null | undefined) {
  const [hold] = await testCtx()
    .db.select()
    .from(creditReservations)
    .where(eq(creditReservations.id, reservationId ?? ""));
  expect(hold?.status).toBe("settled");
  const releases = await testCtx()
    .db.select()
    .from(creditLedger)
    .where(and(eq(creditLedger.orgId, orgId), eq(creditLedger.kind, "release")));
  expect(releases).toHaveLength(1);
}

describe("Twilio call status callbacks", () => {
  it("finalise a call whose stream never opened exactly once, even when two race", async () => {
    const { owner, number } = await receptionist("status");
    const sid = callSid();
    await incoming({ CallSid: sid, From: "+14155550100", To: number });
    const before = await callBySid(sid);

    const completed = { CallSid: sid, CallStatus: "busy", CallDuration: "0", To: number, From: "+14155550100" };
    const results = await Promise.all([twilioPost("/v1/voice/twilio/status", completed), twilioPost("/v1/voice/twilio/status", completed)]);
    expect(results.map((r) => r.status)).toEqual([204, 204]);

    const after = await callBySid(sid);
    expect(after).toMatchObject({ status: "busy", durationS: 0, costCredits: 0, endReason: "twilio_busy" });
    expect(after?.endedAt).toBeInstanceOf(Date);
    await expectSettledOnceWithNothingCharged(owner.orgId, before?.reservationId);
  });

  it("leave a streamed call to its bridge, keeping Twilio's seconds and status for the record", async () => {
    const { owner, sid, row } = await openedCall("streamed");
    // The stream opened (its token was used): the bridge owns the call.
    await testCtx().db.update(calls).set({ streamTokenHash: null }).where(eq(calls.id, row.id));

    await twilioPost("/v1/voice/twilio/status", { CallSid: sid, CallStatus: "completed", CallDuration: "65" });
    expect(await callBySid(sid)).toMatchObject({ endedAt: null, durationS: 65 });
    const usage = [{ provider: "openai", model: "gpt-4o-mini-realtime-preview", priceSource: "prefix" as const, audioSeconds: 64, credits: 128 }];
    expect(await finalizeCall(orgCtx(owner.orgId), row.id, { status: "completed", endReason: "caller_hung_up", endedAt: new Date(), usage })).toBe(true);
    expect(await callBySid(sid)).toMatchObject({ status: "completed", durationS: 65, costCredits: 128 });
  });

  it("refuse a forged callback with 403", async () => {
    await expectProblem(await twilioPost("/v1/voice/twilio/status", { CallSid: callSid(), CallStatus: "completed" }, "Zm9yZ2Vk"), 403);
  });
});

/** A system context of the organisation, as the CallSession Durable Object builds one. */
function orgCtx(orgId: string) {
  return { ...testCtx(), actor: systemActor(orgId, []) };
}

async function openedCall(label: string) {
  const setup = await receptionist(label);
  const sid = callSid();
  await incoming({ CallSid: sid, From: "+14155550100", To: setup.number });
  const row = await callBySid(sid);
  if (!row) throw new Error("no call row");
  return { ...setup, sid, row };
}

describe("Call records", () => {
  it("keep the transcript in order, settle the hold once with the bridge's usage, and show it all", async () => {
    const { owner, assistant, row } = await openedCall("records");
    const ctx = orgCtx(owner.orgId);
    await markAnswered(ctx, row.id, new Date(row.startedAt.getTime() + 1000));
    const said = ["Hello, Bright Smile Dental.", "Can I book Friday?", "Friday at ten is free.", "Great, thanks."];
    const seqs = await Promise.all(
      said.map((text, i) => appendTurn(ctx, row.id, { role: i % 2 ? "caller" : "assistant", text, at: new Date(row.startedAt.getTime() + 2000 + i * 1000) })),
    );
    expect([...seqs].sort()).toEqual([1, 2, 3, 4]);

    const usage = [
      {
        provider: "openai",
        model: "gpt-4o-mini-realtime-preview",
        priceSource: "prefix" as const,
        inputTokens: 900,
        outputTokens: 400,
        audioSeconds: 61,
        credits: 122,
      },
    ];
    const end = { status: "completed" as const, endReason: "caller_hung_up", endedAt: new Date(row.startedAt.getTime() + 62_000), usage };
    const [first, second] = await Promise.all([finalizeCall(ctx, row.id, end), finalizeCall(ctx, row.id, end)]);
    expect([first, second].sort()).toEqual([false, true]);

    const shown = await expectJson<Call>(await call(`/v1/calls/${row.id}`, { token: owner.access_token }), 200);
    expect(shown).toMatchObject({
      id: row.id,
      call_sid: row.callSid,
      status: "completed",
      duration_s: 61,
      end_reason: "caller_hung_up",
      usage: [{ provider: "openai", audio_seconds: 61, input_tokens: 900, output_tokens: 400, credits: 122 }],
      cost: { credits: 122 },
    });
    expect(shown.transcript?.map((t) => t.text).sort()).toEqual([...said].sort());
    const charges = await testCtx()
      .db.select()
      .from(creditLedger)
      .where(and(eq(creditLedger.orgId, owner.orgId), eq(creditLedger.kind, "usage")));
    expect(charges.map((c) => c.amount)).toEqual([-122]);
    // Ended: no more holds, no second settlement.
    expect(await extendCallHold(ctx, row.id, 100)).toBe(false);
    // The assistant's agent has the call for billing models: 61 s in minutes, 122 credits as USD cents.
    const events = await testCtx().db.select().from(agentEvents).where(eq(agentEvents.agentId, assistant.agent_id));
    expect(events.map((e) => ({ kind: e.kind, type: e.type, quantity: e.quantity, amount: e.amount })).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: "activity", type: "call_minutes", quantity: "1.017", amount: null },
      { kind: "cost", type: "call_cost", quantity: "1.000", amount: 13 },
    ]);
  });

  it("extend a call's hold while credits last", async () => {
    const { owner, row } = await openedCall("extend");
    const ctx = orgCtx(owner.orgId);
    await setCreditBalance(owner.orgId, 150);
    expect(await extendCallHold(ctx, row.id, 100)).toBe(true);
    expect(await extendCallHold(ctx, row.id, 100)).toBe(false);
    const [hold] = await testCtx()
      .db.select()
      .from(creditReservations)
      .where(eq(creditReservations.id, row.reservationId ?? ""));
    expect(hold?.amount).toBe(172);
    await finalizeCall(ctx, row.id, { status: "completed", endReason: "no_credits", endedAt: new Date(), usage: [] });
    // The whole hold (first minutes and extension) comes back when nothing was used.
    const [balance] = await testCtx().db.select().from(creditBalances).where(eq(creditBalances.orgId, owner.orgId));
    expect(balance?.balance).toBe(150 + 72);
  });

  it("list the organisation's calls newest first in pages, filtered, and never another organisation's", async () => {
    const { owner, assistant, number } = await receptionist("list");
    const sids = [callSid(), callSid(), callSid()];
    for (const sid of sids) await incoming({ CallSid: sid, From: "+14155550100", To: number });
    await twilioPost("/v1/voice/twilio/status", { CallSid: sids[0] as string, CallStatus: "no-answer", CallDuration: "0" });

    const first = await expectJson<Page<Call>>(await call("/v1/calls?limit=2", { token: owner.access_token }), 200);
    expect(first.data.map((c) => c.call_sid)).toEqual([sids[2], sids[1]]);
    expect(first.data[0]).not.toHaveProperty("transcript");
    const second = await expectJson<Page<Call>>(await call(`/v1/calls?limit=2&cursor=${first.next_cursor}`, { token: owner.access_token }), 200);
    expect(second).toMatchObject({ data: [{ call_sid: sids[0], status: "no_answer" }], next_cursor: null });
    const missed = await expectJson<Page<Call>>(await call(`/v1/calls?status=no_answer&assistant_id=${assistant.id}`, { token: owner.access_token }), 200);
    expect(missed.data.map((c) => c.call_sid)).toEqual([sids[0]]);
    const future = await expectJson<Page<Call>>(await call("/v1/calls?from=2099-01-01", { token: owner.access_token }), 200);
    expect(future.data).toEqual([]);

    const other = await signUp("list-other");
    expect((await expectJson<Page<Call>>(await call("/v1/calls", { token: other.access_token }), 200)).data).toEqual([]);
    await expectProblem(await call(`/v1/calls/${first.data[0]?.id}`, { token: other.access_token }), 404);
    await expectProblem(await call("/v1/calls?from=yesterday", { token: owner.access_token }), 422);
  });
});

describe("The stale-call sweep", () => {
  it("ends an in-progress call silent for longer than a call may last as lost, settling its hold once", async () => {
    expect(cronJobs["*/5 * * * *"]?.map((job) => job.name)).toContain("calls.sweep-stale");
    const { owner, row } = await openedCall("sweep");
    const live = await openedCall("sweep-live");
    const ctx = orgCtx(owner.orgId);
    const answered = new Date(Date.now() - (testCtx().config.calls.maxSeconds + 20 * 60) * 1000);
    const lastWord = new Date(answered.getTime() + 30_000);
    await markAnswered(ctx, row.id, answered);
    await appendTurn(ctx, row.id, { role: "caller", text: "Are you still there?", at: lastWord });
    await testCtx().db.update(calls).set({ updatedAt: answered }).where(eq(calls.id, row.id));
    await markAnswered(orgCtx(live.owner.orgId), live.row.id, new Date());

    await sweepStaleCalls(testCtx());
    expect(await sweepStaleCalls(testCtx())).toBe(0);
    const swept = await callBySid(row.callSid);
    expect(swept).toMatchObject({ status: "failed", endReason: "lost", durationS: 30, costCredits: 0 });
    expect(swept?.endedAt?.getTime()).toBe(lastWord.getTime());
    await expectSettledOnceWithNothingCharged(owner.orgId, row.reservationId);
    // A bridge that wakes up late finalises nothing more; a live call is left alone.
    expect(await finalizeCall(ctx, row.id, { status: "completed", endReason: "caller_hung_up", endedAt: new Date(), usage: [] })).toBe(false);
    expect(await callBySid(live.row.callSid)).toMatchObject({ status: "in_progress", endedAt: null });
  });
});

describe("Outbound calls", () => {
  async function twilioCallsTo(to: string): Promise<{ body: Record<string, string> }[]> {
    return (await fetch(`${twilioUrl()}/_fake/requests?scope=${encodeURIComponent(to)}`)).json();
  }

  it("place a call from the assistant's number and connect it to a stream when answered", async () => {
    const { owner, assistant, number } = await receptionist("outbound");
    const to = `+1415${String(Math.floor(Math.random() * 10_000_000)).padStart(7, "0")}`;
    const placed = await expectJson<Call>(await call("/v1/calls", { token: owner.access_token, body: { assistant_id: assistant.id, to } }), 201);
    expect(placed).toMatchObject({ direction: "outbound", status: "queued", from: number, to, call_sid: expect.stringMatching(/^CA/) });
    const [request] = await twilioCallsTo(to);
    expect(request?.body).toMatchObject({
      From: number,
      Url: "https://api.billx.test/v1/voice/twilio/incoming",
      StatusCallback: "https://api.billx.test/v1/voice/twilio/status",
    });

    const answered = await incoming({ CallSid: placed.call_sid, From: number, To: to, CallStatus: "in-progress", Direction: "outbound-api" });
    const url = new URL(streamUrl(await answered.text()));
    const opened = await upgrade(url.pathname);
    expect(opened.status).toBe(101);
    opened.webSocket?.accept();
    opened.webSocket?.close(1000, "test done");
  });

  it("check credits before asking Twilio, and need a number to call from", async () => {
    const { owner, assistant } = await receptionist("outbound-broke");
    const to = `+1415${String(Math.floor(Math.random() * 10_000_000)).padStart(7, "0")}`;
    await setCreditBalance(owner.orgId, 5);
    const refused = await expectProblem(await call("/v1/calls", { token: owner.access_token, body: { assistant_id: assistant.id, to } }), 402);
    expect(refused).toMatchObject({ balance: 5, needed: 72 });
    expect(await twilioCallsTo(to)).toEqual([]);

    const bare = await createAssistant(owner, "No number");
    const noNumber = await expectProblem(await call("/v1/calls", { token: owner.access_token, body: { assistant_id: bare.id, to } }), 422);
    expect(noNumber.errors?.[0]?.path).toBe("assistant_id");
  });
});
