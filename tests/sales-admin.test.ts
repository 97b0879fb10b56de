/**
 * The sales chatbot's admin settings (models per agent, versioned prompts), its model providers
 * (OpenAI, Anthropic, Google, xAI through their OpenAI-compatible endpoints, all served by the
 * OpenAI fake under each one's path) and its money: every model call priced, charged in credits
 * and stored, and the billing routes that read those rows.
 */
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { chatbotUsageEvents, creditLedger, usageEvents } from "../src/db/schema";
import { loadConfig } from "../src/env";
import type { ServiceCtx } from "../src/lib/context";
import { providerProblem } from "../src/modules/content/ai/metered-chat";
import { getBalance } from "../src/modules/money/credits/ledger";
import { creditsFor, lookupPrice } from "../src/modules/money/credits/prices";
import { agentModel, agentPrompt, DEFAULT_PROMPTS, ensureChatCredits, recordModelCall } from "../src/modules/sales/settings/service";
import { configuredLlmProviders, type LlmProviderName, llmProvider } from "../src/providers/llm";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, fakeOpenAI, fetchWithEnv, setCreditBalance, testCtx, testEnv } from "./harness/helpers";

// The fake scripts and records by model: names carrying this tag are this file's alone.
const tag = Math.floor(Math.random() * 0xffffff).toString(16);

type Json = Record<string, unknown>;

function get(caller: SignedUp, path: string) {
  return call(path, { token: caller.access_token });
}

function put(caller: SignedUp, path: string, body: unknown) {
  return call(path, { method: "PUT", token: caller.access_token, body });
}

/** A request with some provider keys removed from the Worker's environment. */
function withoutKeys(caller: SignedUp, path: string, keys: string[], init: { method?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${caller.access_token}`,
    "CF-Connecting-IP": `fd00:17a::${Math.floor(Math.random() * 0xffff).toString(16)}`,
  };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  const request = new Request(`http://api.test${path}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return fetchWithEnv(request, Object.fromEntries(keys.map((key) => [key, undefined])));
}

function modelCall(orgId: string, provider: LlmProviderName, model: string, inputTokens: number, outputTokens: number, extra: Json = {}) {
  return { orgId, conversationId: null, contactId: null, agent: "reply" as const, provider, model, usage: { inputTokens, outputTokens }, ...extra };
}

/** A service context whose clock says `at`, so calls can be recorded on earlier days. */
function ctxAt(at: Date): ServiceCtx {
  return { ...testCtx(), now: () => at };
}

describe("GET /v1/admin/llm/options", () => {
  it("lists only the providers with a key, each with its chat models and prices from the price map", async () => {
    const owner = await signUp("llm-options");
    const all = await expectJson<{ providers: { provider: string; models: { model: string; price: Json }[]; default_price: Json }[]; default: Json }>(
      await get(owner, "/v1/admin/llm/options"),
      200,
    );
    expect(all.providers.map((p) => p.provider)).toEqual(["openai", "anthropic", "google", "xai"]);
    expect(all.default).toEqual({ provider: "openai", model: "gpt-4o-mini" });
    const anthropic = all.providers.find((p) => p.provider === "anthropic");
    expect(anthropic?.models).toContainEqual({
      model: "claude-sonnet-4-5",
      price: {
        input_per_million_tokens: 3600,
        output_per_million_tokens: 18000,
        input_usd_per_million_tokens: "3.600",
        output_usd_per_million_tokens: "18.000",
      },
    });
    // Only chat models: no embeddings, speech or realtime models to pick for an agent.
    const openaiModels = all.providers.find((p) => p.provider === "openai")?.models.map((m) => m.model) ?? [];
    expect(openaiModels).toContain("gpt-4o-mini");
    expect(openaiModels.some((m) => m.includes("embedding") || m.includes("realtime") || m.includes("tts") || m === "whisper-1")).toBe(false);

    const some = await expectJson<{ providers: { provider: string }[] }>(
      await withoutKeys(owner, "/v1/admin/llm/options", ["GOOGLE_AI_API_KEY", "XAI_API_KEY"]),
      200,
    );
    expect(some.providers.map((p) => p.provider)).toEqual(["openai", "anthropic"]);
  });
});

describe("GET|PUT /v1/admin/configs", () => {
  it("round-trips per-agent choices, null goes back to the default, and agentModel follows", async () => {
    const owner = await signUp("configs");
    const initial = await expectJson<Record<string, Json>>(await get(owner, "/v1/admin/configs"), 200);
    expect(Object.keys(initial)).toEqual(["planner", "memory", "product", "knowledge", "reply"]);
    expect(initial.reply).toEqual({ provider: "openai", model: "gpt-4o-mini", is_default: true });

    const updated = await expectJson<Record<string, Json>>(
      await put(owner, "/v1/admin/configs", {
        reply: { provider: "anthropic", model: "claude-sonnet-4-5" },
        planner: { provider: "google", model: "gemini-2.5-flash" },
      }),
      200,
    );
    expect(updated.reply).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5", is_default: false });
    expect(updated.planner).toEqual({ provider: "google", model: "gemini-2.5-flash", is_default: false });
    expect(updated.memory).toMatchObject({ is_default: true });
    expect(await expectJson(await get(owner, "/v1/admin/configs"), 200)).toEqual(updated);
    expect(await agentModel(testCtx(), owner.orgId, "reply")).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5" });
    expect(await agentModel(testCtx(), owner.orgId, "memory")).toEqual({ provider: "openai", model: "gpt-4o-mini" });

    // Absent agents stay; null returns one to the platform default.
    const reset = await expectJson<Record<string, Json>>(await put(owner, "/v1/admin/configs", { planner: null }), 200);
    expect(reset.planner).toEqual({ provider: "openai", model: "gpt-4o-mini", is_default: true });
    expect(reset.reply).toMatchObject({ provider: "anthropic", is_default: false });
  });

  it("fall back to the organisation's default model from /v1/org/settings before the platform's", async () => {
    const owner = await signUp("org-llm");
    const settings = (body?: unknown) => call("/v1/org/settings", { method: body ? "PATCH" : "GET", token: owner.access_token, body });
    expect((await expectJson<{ llm: Json }>(await settings(), 200)).llm).toEqual({ provider: "openai", model: "gpt-4o-mini", is_default: true });

    const chosen = { provider: "xai", model: "grok-4" };
    expect((await expectJson<{ llm: Json }>(await settings({ llm: chosen }), 200)).llm).toEqual({ ...chosen, is_default: false });
    await expectJson(await put(owner, "/v1/admin/configs", { reply: { provider: "anthropic", model: "claude-sonnet-4-5" } }), 200);
    const configs = await expectJson<Record<string, Json>>(await get(owner, "/v1/admin/configs"), 200);
    // The agent configured keeps its own; the others take the organisation's default.
    expect(configs.reply).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5", is_default: false });
    expect(configs.planner).toEqual({ ...chosen, is_default: true });
    expect(await agentModel(testCtx(), owner.orgId, "memory")).toEqual(chosen);
    expect((await expectJson<{ default: Json }>(await get(owner, "/v1/admin/llm/options"), 200)).default).toEqual(chosen);

    // A provider without a key here, half a choice, or a model id that is not one: 422 on the field.
    const noKey = await expectProblem(
      await withoutKeys(owner, "/v1/org/settings", ["GOOGLE_AI_API_KEY"], {
        method: "PATCH",
        body: { llm: { provider: "google", model: "gemini-2.5-flash" } },
      }),
      422,
    );
    expect(noKey.errors).toEqual([expect.objectContaining({ path: "llm.provider", message: expect.stringContaining("GOOGLE_AI_API_KEY") })]);
    for (const bad of [
      { provider: "xai" },
      { provider: "mistral", model: "large" },
      { provider: "openai", model: "gpt 4\u0000" },
      { provider: "openai", model: "x".repeat(121) },
    ]) {
      const problem = await expectProblem(await settings({ llm: bad }), 422);
      expect(problem.errors?.[0]?.path).toMatch(/^llm\./);
    }
    expect((await expectJson<{ llm: Json }>(await settings(), 200)).llm).toEqual({ ...chosen, is_default: false });

    expect((await expectJson<{ llm: Json }>(await settings({ llm: null }), 200)).llm).toMatchObject({ provider: "openai", is_default: true });
    expect(await agentModel(testCtx(), owner.orgId, "memory")).toEqual({ provider: "openai", model: "gpt-4o-mini" });
  });

  it("refuses with 422 naming the field: a provider without a key, unknown providers and agents, bad model ids", async () => {
    const owner = await signUp("configs-bad");
    const keyless = await expectProblem(
      await withoutKeys(owner, "/v1/admin/configs", ["XAI_API_KEY"], { method: "PUT", body: { reply: { provider: "xai", model: "grok-4" } } }),
      422,
    );
    expect(keyless.errors).toEqual([{ path: "reply.provider", message: expect.stringContaining("XAI_API_KEY") }]);

    const cases: [unknown, string][] = [
      [{ reply: { provider: "mistral", model: "mistral-large" } }, "reply.provider"],
      [{ reply: { provider: "openai", model: "" } }, "reply.model"],
      [{ reply: { provider: "openai", model: "gpt\u0000-4o" } }, "reply.model"],
      [{ reply: { provider: "openai", model: "x".repeat(101) } }, "reply.model"],
      [{ reply: { provider: "openai", model: "gpt 4o; drop table" } }, "reply.model"],
      [{ reply: { provider: "openai" } }, "reply.model"],
      [{ salesman: { provider: "openai", model: "gpt-4o" } }, "(root)"],
    ];
    for (const [body, path] of cases) {
      const problem = await expectProblem(await put(owner, "/v1/admin/configs", body), 422);
      expect(
        problem.errors?.map((e) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    // Nothing was stored by any of them.
    const after = await expectJson<Record<string, Json>>(await get(owner, "/v1/admin/configs"), 200);
    expect(Object.values(after).every((c) => c.is_default === true)).toBe(true);
  });

  it("needs org:write to change and org:read to see: a viewer reads but cannot change", async () => {
    const owner = await signUp("configs-perm");
    const viewer = await joinOrgAs(owner, "viewer");
    const asViewer = (path: string, body?: unknown) =>
      call(path, { method: body === undefined ? "GET" : "PUT", token: viewer.access_token, orgId: owner.orgId, body });
    await expectJson(await asViewer("/v1/admin/configs"), 200);
    await expectProblem(await asViewer("/v1/admin/configs", { reply: { provider: "openai", model: "gpt-4o" } }), 403);
    await expectProblem(await asViewer("/v1/admin/prompts/reply", { text: "Be rude." }), 403);
  });
});

interface PromptView {
  slug: string;
  text: string;
  version: number;
  latest_version: number;
  is_default: boolean;
}

describe("GET /v1/admin/prompts, PUT /v1/admin/prompts/{slug}", () => {
  it("lists every slug with its default, keeps every version, and reverts to an old one or the default", async () => {
    const owner = await signUp("prompts");
    const list = await expectJson<{ data: PromptView[] }>(await get(owner, "/v1/admin/prompts"), 200);
    expect(list.data.map((p) => p.slug)).toEqual([
      "planner",
      "memory",
      "product",
      "knowledge",
      "reply",
      "stage.greeting",
      "stage.opening",
      "stage.consultation",
      "stage.testimony",
      "stage.promo",
      "stage.closing",
      "stage.farewell",
    ]);
    expect(list.data.every((p) => p.is_default && p.version === 0 && p.text === DEFAULT_PROMPTS[p.slug])).toBe(true);

    const v1 = await expectJson<PromptView>(await put(owner, "/v1/admin/prompts/stage.greeting", { text: "Say hello, first version." }), 200);
    expect(v1).toMatchObject({ slug: "stage.greeting", text: "Say hello, first version.", version: 1, latest_version: 1, is_default: false });
    const v2 = await expectJson<PromptView>(await put(owner, "/v1/admin/prompts/stage.greeting", { text: "Say hello, second version." }), 200);
    expect(v2).toMatchObject({ version: 2, latest_version: 2 });
    expect(await agentPrompt(testCtx(), owner.orgId, "stage.greeting")).toBe("Say hello, second version.");

    const back = await expectJson<PromptView>(await put(owner, "/v1/admin/prompts/stage.greeting", { revert_to: 1 }), 200);
    expect(back).toMatchObject({ text: "Say hello, first version.", version: 1, latest_version: 2, is_default: false });
    expect(await agentPrompt(testCtx(), owner.orgId, "stage.greeting")).toBe("Say hello, first version.");

    const reverted = await expectJson<PromptView>(
      await call("/v1/admin/prompts/stage.greeting/revert", { token: owner.access_token, body: { version: 0 } }),
      200,
    );
    expect(reverted).toMatchObject({ text: DEFAULT_PROMPTS["stage.greeting"], version: 0, latest_version: 2, is_default: true });
    expect(await agentPrompt(testCtx(), owner.orgId, "stage.greeting")).toBe(DEFAULT_PROMPTS["stage.greeting"]);

    // A write after a revert takes the next number: no version is ever overwritten.
    const v3 = await expectJson<PromptView>(await put(owner, "/v1/admin/prompts/stage.greeting", { text: "Third." }), 200);
    expect(v3).toMatchObject({ version: 3, latest_version: 3 });
    const again = await expectJson<PromptView>(await put(owner, "/v1/admin/prompts/stage.greeting", { revert_to: 2 }), 200);
    expect(again.text).toBe("Say hello, second version.");
    // Other slugs are untouched.
    expect(await agentPrompt(testCtx(), owner.orgId, "reply")).toBe(DEFAULT_PROMPTS.reply);
  });

  it("racing writes take consecutive versions", async () => {
    const owner = await signUp("prompts-race");
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => put(owner, "/v1/admin/prompts/reply", { text: `Racer ${i}` })));
    const written = await Promise.all(answers.map((r) => expectJson<PromptView>(r, 200)));
    expect(written.map((p) => p.version).sort()).toEqual([1, 2, 3, 4, 5]);
    // The last version written is the one in use.
    const last = written.find((p) => p.version === 5);
    expect(await agentPrompt(testCtx(), owner.orgId, "reply")).toBe(last?.text);
  });

  it("answers 404 for an unknown slug and 422 for bad bodies and versions that do not exist", async () => {
    const owner = await signUp("prompts-bad");
    await expectProblem(await put(owner, "/v1/admin/prompts/stage.haggling", { text: "Haggle." }), 404);
    await expectProblem(await call("/v1/admin/prompts/nope/revert", { token: owner.access_token, body: { version: 0 } }), 404);
    const bodies: unknown[] = [
      { text: "" },
      { text: "a\u0000b" },
      { text: "x".repeat(20_001) },
      {},
      { text: "Both", revert_to: 1 },
      { revert_to: -1 },
      { revert_to: 1e12 },
      { text: 42 },
    ];
    for (const body of bodies) await expectProblem(await put(owner, "/v1/admin/prompts/reply", body), 422);
    const missing = await expectProblem(await put(owner, "/v1/admin/prompts/reply", { revert_to: 7 }), 422);
    expect(missing.errors).toEqual([{ path: "revert_to", message: expect.stringContaining("no version 7") }]);
    const missingPost = await expectProblem(await call("/v1/admin/prompts/reply/revert", { token: owner.access_token, body: { version: 7 } }), 422);
    expect(missingPost.errors?.[0]?.path).toBe("version");
  });
});

describe("model providers", () => {
  const cases: { provider: LlmProviderName; model: string; source: string; path: string; key: string }[] = [
    { provider: "openai", model: "gpt-4o-mini", source: "exact", path: "/v1/chat/completions", key: "sk-test-fake" },
    { provider: "anthropic", model: `claude-haiku-4-5-${tag}`, source: "prefix", path: "/anthropic/v1/chat/completions", key: "sk-ant-test-fake" },
    { provider: "google", model: "gemini-2.5-flash-lite", source: "exact", path: "/google/v1beta/openai/chat/completions", key: "google-ai-test-fake" },
    { provider: "xai", model: `mystery-${tag}`, source: "provider_default", path: "/xai/v1/chat/completions", key: "xai-test-fake" },
  ];

  for (const { provider, model, source, path, key } of cases) {
    it(`${provider}: a call goes to its endpoint with its key, and is priced (${source}), charged and stored`, async () => {
      const owner = await signUp(`llm-${provider}`);
      await setCreditBalance(owner.orgId, 10_000);
      const question = `Which beans for an espresso? (${provider} ${tag})`;
      const result = await llmProvider(testCtx().config, provider).chat({ model, messages: [{ role: "user", content: question }] });
      expect(result.content).toContain(question);
      expect(result.usage.inputTokens).toBeGreaterThan(0);
      const sent = (await fakeOpenAI.requests(model)).filter((r) => JSON.stringify(r.body).includes(question));
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ path, headers: { authorization: `Bearer ${key}` } });

      // Enough tokens that the price, not the one-credit minimum, decides.
      const usage = { inputTokens: result.usage.inputTokens + 200_000, outputTokens: result.usage.outputTokens + 50_000 };
      const recorded = await recordModelCall(testCtx(), {
        ...modelCall(owner.orgId, provider, model, usage.inputTokens, usage.outputTokens),
        contactId: "visitor-1",
      });
      const { price } = lookupPrice(provider, model);
      const expected = creditsFor(price, usage);
      expect(expected).toBeGreaterThan(10);
      expect(recorded).toMatchObject({ credits: expected, price_source: source });
      const exactUsd = (usage.inputTokens * (price.inputPerMillionTokens ?? 0) + usage.outputTokens * (price.outputPerMillionTokens ?? 0)) / 1e9;
      // Six decimals, rounded: within half a millionth of a dollar.
      expect(Math.abs(Number(recorded.cost_usd) - exactUsd)).toBeLessThanOrEqual(0.0000005 + 1e-12);
      expect(await getBalance(testCtx(), owner.orgId)).toBe(10_000 - expected);

      const [row] = await testCtx().db.select().from(chatbotUsageEvents).where(eq(chatbotUsageEvents.orgId, owner.orgId));
      expect(row).toMatchObject({
        provider,
        model,
        agent: "reply",
        contactId: "visitor-1",
        credits: expected,
        priceSource: source,
        costUsd: recorded.cost_usd,
      });
      // The platform-wide ledger and usage events agree with it.
      const [entry] = await testCtx()
        .db.select()
        .from(creditLedger)
        .where(and(eq(creditLedger.orgId, owner.orgId), eq(creditLedger.referenceId, recorded.event_id)));
      expect(entry).toMatchObject({ kind: "usage", amount: -expected, referenceType: "chatbot_usage" });
      const [platform] = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
      expect(platform).toMatchObject({ feature: "chatbot.reply", provider, model, credits: expected, priceSource: source });
    });
  }

  it("prices model ids as each provider spells them: dated snapshots, families, Gemini's models/ form", () => {
    expect(lookupPrice("anthropic", "claude-sonnet-4-5-20250929")).toMatchObject({ source: "prefix", price: { inputPerMillionTokens: 3_600 } });
    // A newer Opus nobody listed is priced as today's Opus; the old dated Opus 4 keeps its old price.
    expect(lookupPrice("anthropic", "claude-opus-4-8")).toMatchObject({ source: "prefix", price: { outputPerMillionTokens: 30_000 } });
    expect(lookupPrice("anthropic", "claude-opus-4-20250514")).toMatchObject({ source: "prefix", price: { outputPerMillionTokens: 90_000 } });
    expect(lookupPrice("anthropic", "claude-opus-4-1-20250805")).toMatchObject({ source: "prefix", price: { outputPerMillionTokens: 90_000 } });
    expect(lookupPrice("google", "models/gemini-2.5-flash")).toMatchObject({ source: "exact", price: { inputPerMillionTokens: 360 } });
    expect(lookupPrice("google", "gemini-2.5-flash-lite-preview-06-17")).toMatchObject({ source: "prefix", price: { inputPerMillionTokens: 120 } });
    expect(lookupPrice("xai", "grok-3-mini-fast-beta")).toMatchObject({ source: "prefix", price: { outputPerMillionTokens: 4_800 } });
    expect(lookupPrice("xai", "grok-4-0709")).toMatchObject({ source: "prefix", price: { inputPerMillionTokens: 3_600 } });
    expect(lookupPrice("openai", "gpt-4o-mini-2024-07-18")).toMatchObject({ source: "prefix", price: { inputPerMillionTokens: 180 } });
  });

  it("without a key: 503 naming the variable, and the key list leaves the provider out", async () => {
    const config = loadConfig({ ...testEnv, XAI_API_KEY: undefined });
    expect(configuredLlmProviders(config)).toEqual(["openai", "anthropic", "google"]);
    await expect(llmProvider(config, "xai").chat({ model: "grok-4", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({
      status: 503,
      detail: expect.stringContaining("XAI_API_KEY"),
    });
  });

  it("a provider's refusal is a ProviderError named after it, which the API shows as a 502 naming the provider", async () => {
    const model = `claude-sonnet-4-5-refuse-${tag}`;
    await fakeOpenAI.fail(model, [{ status: 400, body: { type: "error", error: { type: "invalid_request_error", message: "max_tokens: too large" } } }]);
    const failure = await llmProvider(testCtx().config, "anthropic")
      .chat({ model, messages: [{ role: "user", content: "hi" }] })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: "ProviderError", provider: "anthropic", status: 400, retryable: false });
    expect(providerProblem(failure)).toMatchObject({ status: 502, detail: expect.stringContaining("Anthropic refused the request") });
  });

  it("a stream stops the provider request when its signal aborts", async () => {
    const model = `claude-sonnet-4-5-abort-${tag}`;
    // The fake holds its answer long enough that only the abort can end the call early.
    const delay = await fetch(`${testEnv.ANTHROPIC_BASE_URL?.replace(/\/anthropic\/v1\/$/, "")}/_fake/delays`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scope: model, ms: 15_000 }),
    });
    expect(delay.status).toBe(204);
    const controller = new AbortController();
    const stream = llmProvider(testCtx().config, "anthropic").chatStream(
      { model, messages: [{ role: "user", content: "Tell me a long story" }] },
      { signal: controller.signal },
    );
    const first = stream.next();
    await expect.poll(async () => (await fakeOpenAI.requests(model)).length, { timeout: 10_000 }).toBe(1);
    const started = Date.now();
    controller.abort();
    await expect(first).rejects.toThrow(/abort/i);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("charges what the balance holds when a call costs more, and the pre-check answers 402 on an empty balance", async () => {
    const owner = await signUp("llm-short");
    await setCreditBalance(owner.orgId, 5);
    await expect(ensureChatCredits(testCtx(), owner.orgId)).resolves.toBe(5);
    const recorded = await recordModelCall(testCtx(), modelCall(owner.orgId, "anthropic", "claude-opus-4-1", 100_000, 10_000));
    expect(recorded.credits).toBe(5);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(0);
    await expect(ensureChatCredits(testCtx(), owner.orgId)).rejects.toMatchObject({ status: 402, extensions: { balance: 0, needed: 1 } });
    // A call after that is still stored, at no charge: usage is never lost.
    expect((await recordModelCall(testCtx(), modelCall(owner.orgId, "openai", "gpt-4o-mini", 10, 10))).credits).toBe(0);
    expect(await testCtx().db.select().from(chatbotUsageEvents).where(eq(chatbotUsageEvents.orgId, owner.orgId))).toHaveLength(2);
  });
});

interface Totals {
  calls: number;
  input_tokens: number;
  output_tokens: number;
  credits: number;
  cost_usd: string;
}

interface Summary {
  days: number;
  totals: Totals;
  daily: (Totals & { date: string })[];
  by_model: (Totals & { provider: string; model: string })[];
  recent: (Totals & { id: string; provider: string; model: string; contact_id: string | null; credits: number; cost_usd: string; input_tokens: number })[];
}

interface EventPage {
  data: {
    id: string;
    at: string;
    provider: string;
    model: string;
    credits: number;
    cost_usd: string;
    input_tokens: number;
    output_tokens: number;
    contact_id: string | null;
  }[];
  next_cursor: string | null;
}

const usd = (values: string[]) => values.reduce((sum, v) => sum + Math.round(Number(v) * 1e6), 0);

describe("GET /v1/billing/summary and /v1/billing/events", () => {
  it("totals are the sum of the events, one daily entry per UTC day, and by_model adds up after a model switch", async () => {
    const owner = await signUp("billing");
    await setCreditBalance(owner.orgId, 100_000);
    const now = new Date();
    const threeDaysAgo = new Date(now.getTime() - 3 * 86_400_000);
    const longAgo = new Date(now.getTime() - 40 * 86_400_000);
    // The reply agent on gpt-4o-mini, then switched to Claude mid-conversation.
    await put(owner, "/v1/admin/configs", { reply: { provider: "openai", model: "gpt-4o-mini" } });
    let choice = await agentModel(testCtx(), owner.orgId, "reply");
    const conversation = { conversationId: "scv_test", contactId: "visitor-a" };
    await recordModelCall(ctxAt(threeDaysAgo), modelCall(owner.orgId, choice.provider, choice.model, 12_000, 800, conversation));
    await recordModelCall(testCtx(), modelCall(owner.orgId, choice.provider, choice.model, 9_000, 600, conversation));
    await put(owner, "/v1/admin/configs", { reply: { provider: "anthropic", model: "claude-sonnet-4-5" } });
    choice = await agentModel(testCtx(), owner.orgId, "reply");
    await recordModelCall(testCtx(), modelCall(owner.orgId, choice.provider, choice.model, 20_000, 1_500, conversation));
    await recordModelCall(testCtx(), modelCall(owner.orgId, choice.provider, choice.model, 4_000, 300, { contactId: "visitor-b" }));
    await recordModelCall(ctxAt(longAgo), modelCall(owner.orgId, "openai", "gpt-4o", 1_000, 100));

    const summary = await expectJson<Summary>(await get(owner, "/v1/billing/summary"), 200);
    const events = await expectJson<EventPage>(await get(owner, "/v1/billing/events"), 200);
    expect(events.data).toHaveLength(4); // the 40-day-old call is out of the default 30 days
    expect(summary.totals).toEqual({
      calls: 4,
      input_tokens: events.data.reduce((s, e) => s + e.input_tokens, 0),
      output_tokens: events.data.reduce((s, e) => s + e.output_tokens, 0),
      credits: events.data.reduce((s, e) => s + e.credits, 0),
      cost_usd: (usd(events.data.map((e) => e.cost_usd)) / 1e6).toFixed(6),
    });
    expect(summary.totals.credits).toBe(100_000 - (await getBalance(testCtx(), owner.orgId)) - (await ledgerCharge(owner.orgId, "gpt-4o")));

    expect(summary.daily).toHaveLength(30);
    expect(summary.daily.at(-1)?.date).toBe(now.toISOString().slice(0, 10));
    expect(summary.daily.find((d) => d.date === threeDaysAgo.toISOString().slice(0, 10))).toMatchObject({ calls: 1, input_tokens: 12_000 });
    expect(summary.daily.reduce((s, d) => s + d.calls, 0)).toBe(4);
    expect(usd(summary.daily.map((d) => d.cost_usd))).toBe(usd([summary.totals.cost_usd]));

    const rows = Object.fromEntries(summary.by_model.map((m) => [`${m.provider}/${m.model}`, m]));
    expect(Object.keys(rows).sort()).toEqual(["anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini"]);
    expect(rows["openai/gpt-4o-mini"]).toMatchObject({ calls: 2, input_tokens: 21_000, output_tokens: 1_400 });
    expect(rows["anthropic/claude-sonnet-4-5"]).toMatchObject({ calls: 2, input_tokens: 24_000, output_tokens: 1_800 });
    expect(summary.by_model.reduce((s, m) => s + m.credits, 0)).toBe(summary.totals.credits);
    // Dearest first: Sonnet costs more here than gpt-4o-mini.
    expect(summary.by_model[0]?.provider).toBe("anthropic");

    // One contact, a short range, a short recent list.
    const visitorA = await expectJson<Summary>(await get(owner, "/v1/billing/summary?contact_id=visitor-a&days=2&recent_limit=1"), 200);
    expect(visitorA.totals).toMatchObject({ calls: 2, input_tokens: 29_000 });
    expect(visitorA.daily).toHaveLength(2);
    expect(visitorA.recent).toHaveLength(1);
    expect(visitorA.recent[0]).toMatchObject({ provider: "anthropic", contact_id: "visitor-a" });
    // The documented form with an empty contact_id is the unfiltered summary.
    const unfiltered = await expectJson<Summary>(await get(owner, "/v1/billing/summary?days=30&recent_limit=60&contact_id="), 200);
    expect(unfiltered.totals).toEqual(summary.totals);
    const wide = await expectJson<Summary>(await get(owner, "/v1/billing/summary?days=366"), 200);
    expect(wide.totals.calls).toBe(5);
    expect(wide.daily).toHaveLength(366);

    // Pages of events, newest first, ending with a null cursor.
    const page1 = await expectJson<EventPage>(await get(owner, "/v1/billing/events?days=60&limit=3"), 200);
    expect(page1.data).toHaveLength(3);
    expect(page1.next_cursor).toBe(page1.data[2]?.id);
    const page2 = await expectJson<EventPage>(await get(owner, `/v1/billing/events?days=60&limit=3&cursor=${page1.next_cursor}`), 200);
    expect(page2.data.map((e) => e.model)).toEqual(["gpt-4o-mini", "gpt-4o"]);
    expect([...page1.data, ...page2.data].map((e) => e.at)).toEqual(
      [...page1.data, ...page2.data]
        .map((e) => e.at)
        .sort()
        .reverse(),
    );
    expect(page2.next_cursor).toBeNull();
  });

  it("validates its query: days 1..366, limits 1..1000, printable contact ids, real cursors", async () => {
    const owner = await signUp("billing-bad");
    const bad = [
      "/v1/billing/summary?days=1e12",
      "/v1/billing/summary?days=0",
      "/v1/billing/summary?days=367",
      "/v1/billing/summary?days=abc",
      "/v1/billing/summary?recent_limit=-1",
      "/v1/billing/summary?recent_limit=1001",
      "/v1/billing/summary?contact_id=%00",
      `/v1/billing/summary?contact_id=${"x".repeat(201)}`,
      "/v1/billing/events?limit=-1",
      "/v1/billing/events?limit=0",
      "/v1/billing/events?limit=1e12",
      "/v1/billing/events?days=1.5",
      "/v1/billing/events?cursor=%00",
      "/v1/billing/events?cursor=not-a-cursor",
    ];
    for (const path of bad) {
      const problem = await expectProblem(await get(owner, path), 422);
      expect(problem.errors?.length, path).toBeGreaterThan(0);
    }
  });
});

describe("tenant isolation", () => {
  it("organisation B sees none of A's configs, prompts or usage, and cannot address A's", async () => {
    const a = await signUp("iso-a");
    const b = await signUp("iso-b");
    await put(a, "/v1/admin/configs", { reply: { provider: "anthropic", model: "claude-haiku-4-5" } });
    await put(a, "/v1/admin/prompts/reply", { text: "A's secret sales recipe." });
    await recordModelCall(testCtx(), modelCall(a.orgId, "anthropic", "claude-haiku-4-5", 1_000, 100, { contactId: "a-visitor" }));

    const configs = await expectJson<Record<string, Json>>(await get(b, "/v1/admin/configs"), 200);
    expect(configs.reply).toMatchObject({ is_default: true, provider: "openai" });
    const prompts = await expectJson<{ data: PromptView[] }>(await get(b, "/v1/admin/prompts"), 200);
    expect(prompts.data.find((p) => p.slug === "reply")).toMatchObject({ is_default: true, text: DEFAULT_PROMPTS.reply });
    const summary = await expectJson<Summary>(await get(b, "/v1/billing/summary?contact_id=a-visitor"), 200);
    expect(summary.totals.calls).toBe(0);
    expect((await expectJson<EventPage>(await get(b, "/v1/billing/events"), 200)).data).toEqual([]);
    expect(await agentPrompt(testCtx(), b.orgId, "reply")).toBe(DEFAULT_PROMPTS.reply);

    // B naming A's organisation is refused, and A's settings are unchanged.
    for (const path of ["/v1/admin/configs", "/v1/admin/prompts", "/v1/billing/summary", "/v1/billing/events"]) {
      const response = await call(path, { token: b.access_token, orgId: a.orgId });
      expect([403, 404], path).toContain(response.status);
    }
    const denied = await call("/v1/admin/prompts/reply", { method: "PUT", token: b.access_token, orgId: a.orgId, body: { text: "B was here" } });
    expect([403, 404]).toContain(denied.status);
    expect(await agentPrompt(testCtx(), a.orgId, "reply")).toBe("A's secret sales recipe.");
    expect((await expectJson<Summary>(await get(a, "/v1/billing/summary"), 200)).totals.calls).toBe(1);
  });
});

/** Credits charged for `model` in `orgId`'s chatbot events (to set aside calls outside a range). */
async function ledgerCharge(orgId: string, model: string): Promise<number> {
  const rows = await testCtx()
    .db.select({ credits: chatbotUsageEvents.credits })
    .from(chatbotUsageEvents)
    .where(and(eq(chatbotUsageEvents.orgId, orgId), eq(chatbotUsageEvents.model, model)));
  return rows.reduce((sum, row) => sum + row.credits, 0);
}
