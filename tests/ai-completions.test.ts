import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiUsage, creditLedger, creditReservations, usageEvents } from "../src/db/schema";
import { getBalance } from "../src/modules/money/credits/ledger";
import { PLANS, periodOf } from "../src/modules/money/plans/plans";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, fakeOpenAI, setCreditBalance, testCtx } from "./harness/helpers";

// The fake keys scripts and recorded requests by model: every test uses its own model names.
const tag = Math.floor(Math.random() * 0xffffff).toString(16);
const FREE_CREDITS = PLANS.free.monthlyCredits;

interface CompletionResponse {
  content: string;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  credits_charged: number;
  balance: number;
}

function complete(caller: SignedUp, body: Record<string, unknown>) {
  return call("/v1/ai/completions", { token: caller.access_token, body });
}

const ask = (text: string) => [{ role: "user", content: text }];

async function ledgerKinds(orgId: string) {
  const rows = await testCtx()
    .db.select({ kind: creditLedger.kind, amount: creditLedger.amount })
    .from(creditLedger)
    .where(eq(creditLedger.orgId, orgId))
    .orderBy(creditLedger.id);
  return rows.map((r) => [r.kind, r.amount]);
}

async function apiUsageRows(orgId: string, expected: number) {
  // Written through waitUntil after the response: give it a moment.
  await expect.poll(async () => (await testCtx().db.select().from(apiUsage).where(eq(apiUsage.orgId, orgId))).length, { timeout: 5_000 }).toBe(expected);
  return testCtx().db.select().from(apiUsage).where(eq(apiUsage.orgId, orgId)).orderBy(apiUsage.id);
}

describe("POST /v1/ai/completions", () => {
  it("answers, charges the actual token usage, and records a usage event and an api_usage row", async () => {
    const owner = await signUp("ai-happy");
    const model = `gpt-4o-mini-happy-${tag}`;
    await fakeOpenAI.script(model, [{ content: "Thank you for shopping with us!" }]);

    const body = await expectJson<CompletionResponse>(await complete(owner, { model, messages: ask("Write a thank-you note"), max_tokens: 64 }), 200);
    expect(body).toMatchObject({ content: "Thank you for shopping with us!", model, credits_charged: 1, balance: FREE_CREDITS - 1 });
    expect(body.usage.input_tokens).toBeGreaterThan(0);
    expect(body.usage.output_tokens).toBeGreaterThan(0);

    const [request] = await fakeOpenAI.requests(model);
    expect(request?.body).toMatchObject({ model, messages: ask("Write a thank-you note"), max_completion_tokens: 64 });

    const [event] = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
    expect(event).toMatchObject({
      feature: "ai.completions",
      provider: "openai",
      model,
      inputTokens: body.usage.input_tokens,
      outputTokens: body.usage.output_tokens,
      credits: 1,
      priceSource: "prefix",
    });
    expect(await ledgerKinds(owner.orgId)).toEqual([
      ["grant", FREE_CREDITS],
      ["reservation", -1],
      ["release", 1],
      ["usage", -1],
    ]);
    const [row] = await apiUsageRows(owner.orgId, 1);
    expect(row).toMatchObject({ userId: owner.user.id, apiKeyId: null, route: "/v1/ai/completions", method: "POST", status: 200, credits: 1 });
    expect(row?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("meters a call made with an API key scoped to ai:use under that key", async () => {
    const owner = await signUp("ai-key");
    const { id, key } = await expectJson<{ id: string; key: string }>(
      await call("/v1/api-keys", { token: owner.access_token, body: { name: "Chat widget", permissions: ["ai:use"] } }),
      201,
    );
    const model = `gpt-4o-mini-key-${tag}`;
    await expectJson(await call("/v1/ai/completions", { token: key, body: { model, messages: ask("hi"), max_tokens: 8 } }), 200);
    const [row] = await apiUsageRows(owner.orgId, 1);
    expect(row).toMatchObject({ apiKeyId: id, userId: null, route: "/v1/ai/completions", status: 200, credits: 1 });
  });

  it("stores where each price came from: exact model, longest prefix, or the provider default", async () => {
    const owner = await signUp("ai-prices");
    const prefixModel = `gpt-4.1-nano-${tag}`;
    const unknownModel = `acme-llm-${tag}`;
    await expectJson(await complete(owner, { messages: ask("default model, priced exactly"), max_tokens: 16 }), 200);
    await expectJson(await complete(owner, { model: prefixModel, messages: ask("priced by prefix"), max_tokens: 16 }), 200);
    await expectJson(await complete(owner, { model: unknownModel, messages: ask("priced by the provider default"), max_tokens: 16 }), 200);

    const events = await testCtx()
      .db.select({ model: usageEvents.model, source: usageEvents.priceSource })
      .from(usageEvents)
      .where(eq(usageEvents.orgId, owner.orgId))
      .orderBy(usageEvents.id);
    expect(events).toEqual([
      { model: "gpt-4o-mini", source: "exact" },
      { model: prefixModel, source: "prefix" },
      { model: unknownModel, source: "provider_default" },
    ]);
  });

  it("out of credits: 402 with balance and needed, and the model is never called", async () => {
    const owner = await signUp("ai-broke");
    const model = `gpt-4o-broke-${tag}`;
    await setCreditBalance(owner.orgId, 2);
    const problem = await expectProblem(await complete(owner, { model, messages: ask("Summarise my sales"), max_tokens: 4_000 }), 402);
    // gpt-4o: 4000 output tokens at 12,000 credits a million are 48 credits, plus the prompt.
    expect(problem).toMatchObject({ balance: 2, needed: 49, title: "Payment required" });
    expect(problem.detail).toBe("This needs 49 credits and the organisation has 2");

    expect(await fakeOpenAI.requests(model)).toEqual([]);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(2);
    expect(await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId))).toEqual([]);
    const [row] = await apiUsageRows(owner.orgId, 1);
    expect(row).toMatchObject({ status: 402, credits: 0 });
  });

  it("provider refuses the request: 502 with OpenAI's reason, and the hold is given back", async () => {
    const owner = await signUp("ai-refused");
    const model = `gpt-4o-mini-refused-${tag}`;
    await fakeOpenAI.fail(model, [
      {
        status: 400,
        body: {
          error: {
            message: "This model's maximum context length is 128000 tokens",
            type: "invalid_request_error",
            param: "messages",
            code: "context_length_exceeded",
          },
        },
      },
    ]);
    const problem = await expectProblem(await complete(owner, { model, messages: ask("a very long prompt"), max_tokens: 64 }), 502);
    expect(problem).toMatchObject({ provider: "openai", provider_status: 400, provider_code: "context_length_exceeded" });
    expect(problem.detail).toContain("maximum context length");

    expect(await fakeOpenAI.requests(model)).toHaveLength(1);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(FREE_CREDITS);
    const [reservation] = await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId));
    expect(reservation).toMatchObject({ status: "released", charged: null });
    expect(await ledgerKinds(owner.orgId)).toEqual([
      ["grant", FREE_CREDITS],
      ["reservation", -1],
      ["release", 1],
    ]);
    expect(await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId))).toEqual([]);
  });

  it("provider keeps failing with 503: answers 503 after the SDK's retries, and the hold is given back", async () => {
    const owner = await signUp("ai-down");
    const model = `gpt-4o-mini-down-${tag}`;
    const outage = { status: 503, body: { error: { message: "The engine is currently overloaded", type: "server_error", param: null, code: null } } };
    await fakeOpenAI.fail(model, [outage, outage, outage]);
    const problem = await expectProblem(await complete(owner, { model, messages: ask("hello"), max_tokens: 16 }), 503);
    expect(problem.detail).toContain("try again later");
    expect(await fakeOpenAI.requests(model)).toHaveLength(3);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(FREE_CREDITS);
  });

  it("50 concurrent calls with 20 credits: exactly 20 answers, 30 get 402, the model is called 20 times", async () => {
    const owner = await signUp("ai-race");
    const model = `gpt-4o-mini-race-${tag}`;
    await setCreditBalance(owner.orgId, 20);
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => complete(owner, { model, messages: ask(`hi ${i}`), max_tokens: 8 })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 402)).toHaveLength(30);
    expect(await fakeOpenAI.requests(model)).toHaveLength(20);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(0);
    const [sum] = await testCtx()
      .db.select({ total: sql<string>`sum(${creditLedger.amount})` })
      .from(creditLedger)
      .where(eq(creditLedger.orgId, owner.orgId));
    expect(Number(sum?.total)).toBe(0);
  });

  it("needs ai:use: a viewer gets 403 and the model is not called; a member may use it", async () => {
    const owner = await signUp("ai-roles");
    const viewer = await joinOrgAs(owner, "viewer", "ai-viewer");
    const member = await joinOrgAs(owner, "member", "ai-member");
    const model = `gpt-4o-mini-roles-${tag}`;
    const refused = await expectProblem(
      await call("/v1/ai/completions", { token: viewer.access_token, orgId: owner.orgId, body: { model, messages: ask("hi") } }),
      403,
    );
    expect(refused.detail).toBe("This needs the ai:use permission");
    expect(await fakeOpenAI.requests(model)).toEqual([]);
    await expectJson(await call("/v1/ai/completions", { token: member.access_token, orgId: owner.orgId, body: { model, messages: ask("hi") } }), 200);
  });

  it("rejects a request without messages with 422 and holds nothing", async () => {
    const owner = await signUp("ai-invalid");
    const problem = await expectProblem(await complete(owner, { messages: [] }), 422);
    expect(problem.errors?.[0]?.path).toBe("messages");
    expect(await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId))).toEqual([]);
  });
});

describe("GET /v1/quota/usage", () => {
  it("reports the month's usage by feature and model, adding up to what was charged, with the credits left", async () => {
    const owner = await signUp("quota");
    const models = [`gpt-4o-quota-${tag}`, `gpt-4o-mini-quota-${tag}`];
    for (const model of [...models, models[0]]) {
      await expectJson(await complete(owner, { model, messages: ask("How did we do this month? Give me the short version."), max_tokens: 300 }), 200);
    }
    const period = periodOf(new Date());
    const report = await expectJson<{
      period: string;
      resets_at: string;
      remaining_credits: number;
      used_credits: number;
      by_feature: { feature: string; credits: number; events: number }[];
      by_model: { model: string; credits: number; events: number; input_tokens: number }[];
    }>(await call(`/v1/quota/usage?period=${period}`, { token: owner.access_token }), 200);

    const events = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
    const charged = events.reduce((sum, e) => sum + e.credits, 0);
    expect(charged).toBeGreaterThan(0);
    expect(report.period).toBe(period);
    expect(report.used_credits).toBe(charged);
    expect(report.remaining_credits).toBe(FREE_CREDITS - charged);
    expect(report.by_feature).toEqual([{ feature: "ai.completions", credits: charged, events: 3 }]);
    expect(report.by_model.map((m) => [m.model, m.events])).toEqual([
      [models[0], 2],
      [models[1], 1],
    ]);
    expect(report.by_model.reduce((sum, m) => sum + m.credits, 0)).toBe(charged);
    expect(report.by_model.reduce((sum, m) => sum + m.input_tokens, 0)).toBe(events.reduce((sum, e) => sum + e.inputTokens, 0));
    const now = new Date();
    expect(report.resets_at).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());

    // The current month is the default; an earlier month has nothing.
    expect(await expectJson(await call("/v1/quota/usage", { token: owner.access_token }), 200)).toEqual(report);
    const earlier = await expectJson<{ used_credits: number; by_feature: unknown[]; resets_at: string }>(
      await call("/v1/quota/usage?period=2020-02", { token: owner.access_token }),
      200,
    );
    expect(earlier).toMatchObject({ used_credits: 0, by_feature: [], resets_at: "2020-03-01T00:00:00.000Z" });
    await expectProblem(await call("/v1/quota/usage?period=2026-13", { token: owner.access_token }), 422);
  });

  it("counts only the caller's organisation", async () => {
    const a = await signUp("quota-a");
    const b = await signUp("quota-b");
    await expectJson(await complete(a, { model: `gpt-4o-mini-iso-${tag}`, messages: ask("hi"), max_tokens: 8 }), 200);
    const report = await expectJson<{ used_credits: number; remaining_credits: number }>(await call("/v1/quota/usage", { token: b.access_token }), 200);
    expect(report).toMatchObject({ used_credits: 0, remaining_credits: FREE_CREDITS });
    const rows = await testCtx()
      .db.select()
      .from(usageEvents)
      .where(and(eq(usageEvents.orgId, b.orgId)));
    expect(rows).toEqual([]);
  });
});
