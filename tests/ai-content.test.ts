import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { aiContents, files, usageEvents } from "../src/db/schema";
import type { BannerView } from "../src/modules/content/ai/schemas";
import { smsSize, trimToFit } from "../src/modules/content/ai/text-limits";
import { getBalance } from "../src/modules/money/credits/ledger";
import { PLANS } from "../src/modules/money/plans/plans";
import { REFUSED_PROMPT_WORD } from "./fakes/openai-images";
import { call, expectJson, type SignedUp, signUp, uniqueIp } from "./harness/api";
import { expectProblem, fakeOpenAI, fetchWithEnv, setCreditBalance, testCtx } from "./harness/helpers";

// The fake keys scripts and recorded requests by model: every test uses its own model names.
const tag = Math.floor(Math.random() * 0xffffff).toString(16);
const FREE_CREDITS = PLANS.free.monthlyCredits;

interface AiText {
  id: string;
  kind: string;
  style: string;
  language: string;
  text: string;
  characters: number;
  sms: { encoding: string; segments: number } | null;
  adjusted: string;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  credits_charged: number;
  balance: number;
}

function write(who: SignedUp, body: Record<string, unknown>) {
  return call("/v1/ai/text", { token: who.access_token, orgId: who.orgId, body });
}

const words = (count: number, word = "sweet") => Array.from({ length: count }, () => word).join(" ");

describe("SMS segments", () => {
  it("counts GSM-7 septets (extension characters twice) and falls back to UCS-2 for anything else", () => {
    expect(smsSize("a".repeat(160))).toEqual({ encoding: "gsm7", units: 160, segments: 1 });
    expect(smsSize("a".repeat(161))).toEqual({ encoding: "gsm7", units: 161, segments: 2 });
    expect(smsSize("a".repeat(306)).segments).toBe(2);
    expect(smsSize("a".repeat(307)).segments).toBe(3);
    expect(smsSize("€".repeat(80))).toEqual({ encoding: "gsm7", units: 160, segments: 1 });
    expect(smsSize("Ç é à ñ ü ß Δ").encoding).toBe("gsm7");
    // Lower-case ç and curly quotes are not in the GSM alphabet.
    expect(smsSize("façade").encoding).toBe("ucs2");
    expect(smsSize("“quoted”").encoding).toBe("ucs2");
    expect(smsSize(`${"a".repeat(69)}🎉`)).toEqual({ encoding: "ucs2", units: 71, segments: 2 });
    expect(smsSize("x".repeat(134)).segments).toBe(1);
  });

  it("trims at a word boundary to the longest start that fits", () => {
    const fits = (t: string) => t.length <= 12;
    expect(trimToFit("Diwali sale today only", fits)).toBe("Diwali sale");
    expect(trimToFit("Diwali, sale today", fits)).toBe("Diwali, sale");
    expect(trimToFit("Supercalifragilistic", fits)).toBe("Supercalifra");
    expect(trimToFit("  short  ", fits)).toBe("short");
  });
});

describe("POST /v1/ai/text", () => {
  it("writes an offer from {prompt, style} alone, charges its tokens and keeps it in the history", async () => {
    const owner = await signUp("ai-text");
    const model = `gpt-4o-mini-text-${tag}`;
    await fakeOpenAI.script(model, [{ content: '"Diwali sale! 20% off all sweets until Sunday."' }]);
    const text = await expectJson<AiText>(await write(owner, { prompt: "Diwali sale, 20% off sweets", style: "festive", model }), 201);
    expect(text).toMatchObject({
      kind: "offer",
      style: "festive",
      language: "en",
      text: "Diwali sale! 20% off all sweets until Sunday.",
      sms: null,
      adjusted: "none",
      model,
      credits_charged: 1,
      balance: FREE_CREDITS - 1,
    });
    expect(text.id).toMatch(/^aic_/);
    const [request] = await fakeOpenAI.requests(model);
    expect(JSON.stringify(request?.body)).toContain("festive");

    const [event] = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
    expect(event).toMatchObject({ feature: "ai.text", model, credits: 1 });
    const history = await expectJson<{ data: Record<string, unknown>[] }>(await call("/v1/ai/content", { token: owner.access_token, orgId: owner.orgId }), 200);
    expect(history.data).toEqual([
      {
        id: text.id,
        kind: "offer",
        style: "festive",
        language: "en",
        prompt: "Diwali sale, 20% off sweets",
        text: text.text,
        file_id: null,
        model,
        usage: text.usage,
        credits: 1,
        created_at: expect.any(String),
      },
    ]);
  });

  it("asks once more when an SMS draft is over one segment, and answers the rewrite that fits", async () => {
    const owner = await signUp("ai-text");
    const model = `gpt-4o-mini-sms-rewrite-${tag}`;
    const draft = words(40);
    const rewrite = "Diwali sale! 20% off all sweets until Sunday at Ravi's. Show this SMS at the till.";
    await fakeOpenAI.script(model, [{ content: draft }, { content: rewrite }]);
    const text = await expectJson<AiText>(await write(owner, { prompt: "Diwali sale", kind: "sms", model }), 201);
    expect(text).toMatchObject({ kind: "sms", text: rewrite, adjusted: "rewritten", sms: { encoding: "gsm7", segments: 1 } });
    const requests = await fakeOpenAI.requests(model);
    expect(requests).toHaveLength(2);
    const retry = requests[1]?.body.messages as { role: string; content: string }[];
    expect(retry.at(-2)).toEqual({ role: "assistant", content: draft });
    expect(retry.at(-1)?.content).toContain(`${draft.length} characters, 2 segments as GSM-7`);
    const [row] = await testCtx().db.select().from(aiContents).where(eq(aiContents.id, text.id));
    // Both calls' tokens are charged.
    expect(row?.inputTokens).toBe(text.usage.input_tokens);
    expect(text.usage.input_tokens).toBeGreaterThan(0);
  });

  it("cuts a rewrite that is still too long at a word boundary so it fits its segments", async () => {
    const owner = await signUp("ai-text");
    const model = `gpt-4o-mini-sms-trim-${tag}`;
    const rewrite = words(60, "offer");
    await fakeOpenAI.script(model, [{ content: words(80) }, { content: rewrite }]);
    const text = await expectJson<AiText>(await write(owner, { prompt: "Sale", kind: "sms", max_segments: 2, model }), 201);
    expect(text.adjusted).toBe("trimmed");
    expect(text.sms).toEqual({ encoding: "gsm7", segments: 2 });
    expect(text.text.length).toBeLessThanOrEqual(306);
    expect(text.text.length).toBeGreaterThan(290);
    expect(rewrite.startsWith(text.text)).toBe(true);
    expect(rewrite[text.text.length]).toBe(" ");
  });

  it("counts an SMS with emoji as UCS-2: 70 characters a segment", async () => {
    const owner = await signUp("ai-text");
    const model = `gpt-4o-mini-sms-ucs2-${tag}`;
    const draft = `🎉 ${"a".repeat(75)}`;
    const rewrite = "🎉 Diwali sale: 20% off sweets till Sunday!";
    await fakeOpenAI.script(model, [{ content: draft }, { content: rewrite }]);
    const text = await expectJson<AiText>(await write(owner, { prompt: "Sale", kind: "sms", model }), 201);
    expect(text).toMatchObject({ text: rewrite, adjusted: "rewritten", sms: { encoding: "ucs2", segments: 1 } });
  });

  it("keeps other kinds within max_chars", async () => {
    const owner = await signUp("ai-text");
    const model = `gpt-4o-mini-post-${tag}`;
    await fakeOpenAI.script(model, [{ content: words(30) }, { content: words(30) }]);
    const text = await expectJson<AiText>(
      await write(owner, { prompt: "New stock", kind: "social_post", max_chars: 50, style: "playful", language: "hi", model }),
      201,
    );
    expect(text).toMatchObject({ kind: "social_post", language: "hi", adjusted: "trimmed", sms: null });
    expect(text.characters).toBeLessThanOrEqual(50);
  });

  it("refuses bad input with 422 and calls no model", async () => {
    const owner = await signUp("ai-text");
    const model = `gpt-4o-mini-invalid-${tag}`;
    for (const body of [
      { prompt: "x", kind: "offer", max_chars: 5000 },
      { prompt: "x", kind: "email", max_segments: 2 },
      { prompt: "x\u0000y" },
      { prompt: "x", kind: "fax" },
      { prompt: "x", language: "not a language" },
      { prompt: "   " },
      { prompt: "x", max_chars: 1e300 },
    ]) {
      await expectProblem(await write(owner, { ...body, model }), 422);
    }
    expect(await fakeOpenAI.requests(model)).toEqual([]);
  });

  it("answers 402 without credits, calls no model and keeps nothing", async () => {
    const owner = await signUp("ai-text");
    const model = `gpt-4o-mini-broke-${tag}`;
    await setCreditBalance(owner.orgId, 0);
    await expectProblem(await write(owner, { prompt: "Sale", model }), 402);
    expect(await fakeOpenAI.requests(model)).toEqual([]);
    expect(await testCtx().db.select().from(aiContents).where(eq(aiContents.orgId, owner.orgId))).toEqual([]);
  });
});

describe("GET /v1/ai/content", () => {
  it("pages newest first, filters by kind, and shows one organisation nothing of another's", async () => {
    const [owner, other] = [await signUp("ai-text"), await signUp("ai-text")];
    const model = `gpt-4o-mini-history-${tag}`;
    await fakeOpenAI.script(model, [{ content: "One" }, { content: "Two" }, { content: "Three" }]);
    for (const kind of ["offer", "sms", "offer"]) await expectJson(await write(owner, { prompt: "Sale", kind, model }), 201);
    const first = await expectJson<{ data: { text: string }[]; next_cursor: string }>(await call("/v1/ai/content?limit=2", { token: owner.access_token }), 200);
    expect(first.data.map((d) => d.text)).toEqual(["Three", "Two"]);
    const second = await expectJson<{ data: { text: string }[]; next_cursor: null }>(
      await call(`/v1/ai/content?limit=2&cursor=${first.next_cursor}`, { token: owner.access_token }),
      200,
    );
    expect(second).toMatchObject({ data: [{ text: "One" }], next_cursor: null });
    const sms = await expectJson<{ data: { text: string }[] }>(await call("/v1/ai/content?kind=sms", { token: owner.access_token }), 200);
    expect(sms.data.map((d) => d.text)).toEqual(["Two"]);
    expect((await expectJson<{ data: unknown[] }>(await call("/v1/ai/content", { token: other.access_token }), 200)).data).toEqual([]);
    expect([403, 404]).toContain((await call("/v1/ai/content", { token: other.access_token, orgId: owner.orgId })).status);
  });
});

type BannerResponse = BannerView;

/** A banner through a Worker drawing with `model` (OPENAI_IMAGE_MODEL), so each test has its own scope in the fake. */
function banner(who: SignedUp, model: string, body: Record<string, unknown>): Promise<Response> {
  const request = new Request("http://api.test/v1/ai/banner", {
    method: "POST",
    headers: { Authorization: `Bearer ${who.access_token}`, "X-Org-Id": who.orgId, "CF-Connecting-IP": uniqueIp(), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return fetchWithEnv(request, { OPENAI_IMAGE_MODEL: model });
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe("POST /v1/ai/banner", () => {
  it("draws from {prompt} alone with dall-e-3 as b64_json, stores the PNG as a file and links it", async () => {
    const owner = await signUp("ai-banner");
    const model = `dall-e-3-${tag}-plain`;
    const made = await expectJson<BannerResponse>(await banner(owner, model, { prompt: "Diwali sweets on a festive table" }), 201);
    expect(made).toMatchObject({ model, size: "1024x1024", style: "vivid", credits_charged: 48, balance: FREE_CREDITS - 48 });
    expect(made.revised_prompt).toContain("Diwali sweets");
    expect(made.file).toMatchObject({ id: made.file_id, kind: "image", content_type: "image/png", width: 1024, height: 1024 });
    const [request] = await fakeOpenAI.requests(model);
    expect(request?.body).toMatchObject({ model, n: 1, size: "1024x1024", style: "vivid", quality: "standard", response_format: "b64_json" });
    expect(String(request?.body.prompt)).toContain("Diwali sweets on a festive table");

    const parsed = new URL(made.url);
    const served = await SELF.fetch(`http://api.test${parsed.pathname}${parsed.search}`);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("image/png");
    const png = new Uint8Array(await served.arrayBuffer());
    expect([...png.slice(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(png.length).toBe(made.file.size);

    const history = await expectJson<{ data: Record<string, unknown>[] }>(await call("/v1/ai/content?kind=banner", { token: owner.access_token }), 200);
    expect(history.data).toMatchObject([
      { id: made.id, kind: "banner", file_id: made.file_id, model, credits: 48, prompt: "Diwali sweets on a festive table", text: null },
    ]);
    const [event] = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
    expect(event).toMatchObject({ feature: "ai.banner", model: "dall-e-3", credits: 48 });
  });

  it("prices a wide dall-e-3 banner at its size and letters a headline", async () => {
    const owner = await signUp("ai-banner");
    const model = `dall-e-3-${tag}-wide`;
    const made = await expectJson<BannerResponse>(
      await banner(owner, model, { prompt: "Sweets", size: "1792x1024", style: "natural", headline: "20% off" }),
      201,
    );
    expect(made).toMatchObject({ size: "1792x1024", style: "natural", credits_charged: 96, file: { width: 1792, height: 1024 } });
    const [request] = await fakeOpenAI.requests(model);
    expect(String(request?.body.prompt)).toContain('"20% off"');
  });

  it("draws with gpt-image-1 without response_format or style, and checks sizes and styles per model", async () => {
    const owner = await signUp("ai-banner");
    const model = `gpt-image-1-${tag}`;
    await expectProblem(await banner(owner, model, { prompt: "Sweets", style: "vivid" }), 422);
    const wrongSize = await expectProblem(await banner(owner, model, { prompt: "Sweets", size: "1792x1024" }), 422);
    expect(wrongSize.errors?.[0]?.path).toBe("size");
    await expectProblem(await banner(owner, `dall-e-3-${tag}-invalid`, { prompt: "Sweets", size: "1536x1024" }), 422);
    await expectProblem(await banner(owner, `dall-e-3-${tag}-invalid`, { prompt: "Sweets", style: "festive" }), 422);
    expect(await fakeOpenAI.requests(model)).toEqual([]);

    const made = await expectJson<BannerResponse>(await banner(owner, model, { prompt: "Sweets", size: "1536x1024" }), 201);
    expect(made).toMatchObject({ style: null, credits_charged: 76, file: { width: 1536, height: 1024 } });
    const [request] = await fakeOpenAI.requests(model);
    expect(request?.body).toMatchObject({ model, size: "1536x1024", quality: "medium" });
    expect(request?.body).not.toHaveProperty("response_format");
    expect(request?.body).not.toHaveProperty("style");
  });

  it("answers a content-policy refusal as 422 with the provider's reason, charges nothing and stores nothing", async () => {
    const owner = await signUp("ai-banner");
    const model = `dall-e-3-${tag}-refused`;
    const before = await getBalance(testCtx(), owner.orgId);
    const refused = await expectProblem(await banner(owner, model, { prompt: `A banner with ${REFUSED_PROMPT_WORD}` }), 422);
    expect(refused).toMatchObject({ provider_code: "content_policy_violation" });
    expect(refused.detail).toContain("safety system");
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before);
    expect(await fakeOpenAI.requests(model)).toHaveLength(1);
    expect(await testCtx().db.select().from(files).where(eq(files.orgId, owner.orgId))).toEqual([]);
    expect(await testCtx().db.select().from(aiContents).where(eq(aiContents.orgId, owner.orgId))).toEqual([]);
    expect(await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId))).toEqual([]);
  });

  it("answers 402 without credits for an image and calls no model", async () => {
    const owner = await signUp("ai-banner");
    const model = `dall-e-3-${tag}-broke`;
    await setCreditBalance(owner.orgId, 10);
    await expectProblem(await banner(owner, model, { prompt: "Sweets" }), 402);
    expect(await fakeOpenAI.requests(model)).toEqual([]);
  });
});
