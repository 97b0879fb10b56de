import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { creditReservations, usageEvents } from "../src/db/schema";
import { loadConfig } from "../src/env";
import type { ServiceCtx } from "../src/lib/context";
import { bytesToVector, embedChunks, embedQuery, vectorToBytes } from "../src/modules/assistants/knowledge/embeddings";
import { getBalance } from "../src/modules/money/credits/ledger";
import { creditsFor, lookupPrice } from "../src/modules/money/credits/prices";
import { ProviderError } from "../src/providers/errors";
import { openai } from "../src/providers/openai";
import { signUp } from "./harness/api";
import { fakeOpenAI, setCreditBalance, testCtx, testEnv } from "./harness/helpers";

// The fake keys failures and recorded requests by model: every test embeds with its own model
// name, a prefix of which is a priced model.
const tag = Math.floor(Math.random() * 0xffffff).toString(16);
const modelFor = (name: string, base = "text-embedding-3-large") => `${base}-${name}-${tag}`;
const provider = () => openai(loadConfig(testEnv));

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

/** A ctx acting for `orgId` with the knowledge embedding model (and anything else) overridden. */
function orgCtx(orgId: string, model: string, overrides: { dimensions?: number; apiKey?: string | undefined } = {}): ServiceCtx {
  const base = testCtx();
  return {
    ...base,
    config: {
      ...base.config,
      openai: { ...base.config.openai, apiKey: "apiKey" in overrides ? overrides.apiKey : base.config.openai.apiKey },
      knowledge: { ...base.config.knowledge, embeddingModel: model, embeddingDimensions: overrides.dimensions ?? 256 },
    },
    actor: { kind: "user", userId: null, apiKeyId: null, sessionId: null, orgId, role: "owner", isSuperAdmin: false, can: () => true },
  };
}

async function rawEmbeddings(body: Record<string, unknown>, authorization = "Bearer sk-test-fake") {
  return fetch(`${inject("openaiBaseUrl")}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify(body),
  });
}

describe("embed through the official SDK against the fake", () => {
  it("returns one normalised vector per input; the SDK's base64 decodes to the same numbers as floats", async () => {
    const model = modelFor("sdk");
    const result = await provider().embed({ model, input: ["Opening hours on Saturday", "Refund policy for damaged boxes"], dimensions: 512 });
    expect(result.model).toBe(model);
    expect(result.vectors).toHaveLength(2);
    expect(result.vectors.map((v) => v.length)).toEqual([512, 512]);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    for (const v of result.vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 5);

    const [request] = await fakeOpenAI.requests(model);
    expect(request?.headers.authorization).toBe("Bearer sk-test-fake");
    expect(request?.body).toMatchObject({
      model,
      input: ["Opening hours on Saturday", "Refund policy for damaged boxes"],
      dimensions: 512,
      encoding_format: "base64",
    });

    const floats = (await (await rawEmbeddings({ model, input: "Opening hours on Saturday", dimensions: 512, encoding_format: "float" })).json()) as {
      object: string;
      data: { object: string; index: number; embedding: number[] }[];
      usage: { prompt_tokens: number; total_tokens: number };
    };
    expect(floats.object).toBe("list");
    expect(floats.data[0]).toMatchObject({ object: "embedding", index: 0 });
    expect(Array.from(result.vectors[0] as Float32Array)).toEqual(floats.data[0]?.embedding);
    expect(floats.usage.prompt_tokens).toBe(floats.usage.total_tokens);
  });

  it("uses the model's full size without dimensions (3072 for -large, 1536 for -small)", async () => {
    const large = await provider().embed({ model: modelFor("full"), input: ["hello"] });
    const small = await provider().embed({ model: modelFor("full", "text-embedding-3-small"), input: ["hello"] });
    expect(large.vectors[0]).toHaveLength(3072);
    expect(small.vectors[0]).toHaveLength(1536);
  });

  it("puts related texts nearer than unrelated ones", async () => {
    const { vectors } = await provider().embed({
      model: modelFor("meaning"),
      input: ["How do I book an appointment?", "Booking appointments online", "Our parking garage closes at midnight"],
      dimensions: 1024,
    });
    const [question, related, unrelated] = vectors as [Float32Array, Float32Array, Float32Array];
    expect(cosine(question, related)).toBeGreaterThan(0.4);
    expect(cosine(question, related)).toBeGreaterThan(cosine(question, unrelated) + 0.3);
  });

  it("answers bad requests with OpenAI's error envelope, which the provider raises as a ProviderError", async () => {
    const model = modelFor("bad");
    expect((await rawEmbeddings({ model, input: "x" }, "")).status).toBe(401);
    for (const body of [{ input: "x" }, { model }, { model, input: [] }, { model, input: ["ok", ""] }, { model, input: Array(2049).fill("x") }]) {
      const res = await rawEmbeddings(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    }
    const error = await provider()
      .embed({ model, input: ["fine", ""] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ provider: "openai", status: 400, retryable: false });
  });
});

describe("embedChunks", () => {
  it("embeds in batches of at most 256 and charges the credits of the tokens the provider reported", async () => {
    const owner = await signUp("emb-batches");
    const model = modelFor("batches");
    const texts = Array.from({ length: 300 }, (_, i) => `Passage ${i} about invoices, refunds and opening hours. `.repeat(4));
    const before = await getBalance(testCtx(), owner.orgId);

    const outcome = await embedChunks(orgCtx(owner.orgId, model, { dimensions: 384 }), texts, { feature: "knowledge.embeddings" });
    expect(outcome).toMatchObject({ model, dimensions: 384 });
    const vectors = "vectors" in outcome ? outcome.vectors : [];
    expect(vectors).toHaveLength(300);
    expect(vectors.every((v) => v.length === 384)).toBe(true);
    // Order is kept across batches: vector 299 is the embedding of text 299.
    const [last] = (await provider().embed({ model: modelFor("batches-check"), input: [texts[299] as string], dimensions: 384 })).vectors;
    expect(Array.from(vectors[299] as Float32Array)).toEqual(Array.from(last as Float32Array));

    const requests = await fakeOpenAI.requests(model);
    expect(requests.map((r) => (r.body.input as string[]).length)).toEqual([256, 44]);
    expect(requests.every((r) => r.body.dimensions === 384)).toBe(true);

    const [event] = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
    const reported = texts.reduce((sum, t) => sum + Math.ceil(t.length / 4), 0);
    expect(event).toMatchObject({ feature: "knowledge.embeddings", provider: "openai", model, inputTokens: reported, outputTokens: 0, priceSource: "prefix" });
    const credits = creditsFor(lookupPrice("openai", "text-embedding-3-large").price, { inputTokens: reported });
    expect(credits).toBeGreaterThan(1);
    expect(event?.credits).toBe(credits);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - credits);
  });

  it("skips without a provider call or a charge when no OpenAI key is configured", async () => {
    const owner = await signUp("emb-nokey");
    const model = modelFor("nokey");
    const before = await getBalance(testCtx(), owner.orgId);
    expect(await embedChunks(orgCtx(owner.orgId, model, { apiKey: undefined }), ["hello"], { feature: "knowledge.embeddings" })).toEqual({
      skipped: "not_configured",
    });
    expect(await fakeOpenAI.requests(model)).toEqual([]);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before);
  });

  it("skips without a provider call when the organisation has no credits", async () => {
    const owner = await signUp("emb-broke");
    const model = modelFor("broke");
    await setCreditBalance(owner.orgId, 0);
    expect(await embedChunks(orgCtx(owner.orgId, model), ["hello", "world"], { feature: "knowledge.embeddings" })).toEqual({ skipped: "insufficient_credits" });
    expect(await fakeOpenAI.requests(model)).toEqual([]);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(0);
  });

  it("throws a retryable ProviderError on a provider 500 and gives the hold back", async () => {
    const owner = await signUp("emb-500");
    const model = modelFor("fail");
    const before = await getBalance(testCtx(), owner.orgId);
    // The SDK retries twice: fail all three attempts.
    const failure = { status: 500, body: { error: { message: "The server had an error", type: "server_error", param: null, code: null } } };
    await fakeOpenAI.fail(model, [failure, failure, failure]);

    const error = await embedChunks(orgCtx(owner.orgId, model), ["hello"], { feature: "knowledge.embeddings" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 500, retryable: true });
    expect(await fakeOpenAI.requests(model)).toHaveLength(3);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before);
    const holds = await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId));
    expect(holds.map((h) => h.status)).toEqual(["released"]);
    expect(await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId))).toEqual([]);
  });
});

describe("embedQuery", () => {
  it("returns the query's vector and charges for it", async () => {
    const owner = await signUp("emb-query");
    const model = modelFor("query");
    const before = await getBalance(testCtx(), owner.orgId);
    const vector = await embedQuery(orgCtx(owner.orgId, model, { dimensions: 128 }), "when are you open");
    expect(vector).toHaveLength(128);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - 1);
    const [event] = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
    expect(event).toMatchObject({ feature: "knowledge.search", model, credits: 1 });
  });

  it("is null, not an error, when the provider fails, credits are short or no key is set", async () => {
    const owner = await signUp("emb-query-null");
    const model = modelFor("query-null");
    const refused = { status: 400, body: { error: { message: "bad", type: "invalid_request_error", param: null, code: null } } };
    await fakeOpenAI.fail(model, [refused]);
    const before = await getBalance(testCtx(), owner.orgId);
    expect(await embedQuery(orgCtx(owner.orgId, model), "opening hours")).toBeNull();
    expect(await fakeOpenAI.requests(model)).toHaveLength(1);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before);

    expect(await embedQuery(orgCtx(owner.orgId, model, { apiKey: undefined }), "opening hours")).toBeNull();
    await setCreditBalance(owner.orgId, 0);
    expect(await embedQuery(orgCtx(owner.orgId, model), "opening hours")).toBeNull();
    expect(await fakeOpenAI.requests(model)).toHaveLength(1);
  });
});

describe("vectorToBytes / bytesToVector", () => {
  it("round-trips as little-endian float32, also from a view at an odd offset", () => {
    const vector = Float32Array.from([1, -0.5, 0.1, 3.4e38, -0]);
    const bytes = vectorToBytes(vector);
    expect(bytes.byteLength).toBe(20);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x00, 0x00, 0x80, 0x3f]); // 1.0f, little-endian
    expect(Array.from(bytesToVector(bytes))).toEqual(Array.from(vector));

    const padded = new Uint8Array(bytes.byteLength + 3);
    padded.set(bytes, 3);
    const view = padded.subarray(3);
    expect(view.byteOffset).toBe(3);
    const back = bytesToVector(view);
    expect(Array.from(back)).toEqual(Array.from(vector));
    // A copy: changing the bytes afterwards does not change the vector.
    padded.fill(0);
    expect(back[0]).toBe(1);
    expect(() => bytesToVector(new Uint8Array(6))).toThrow(RangeError);
  });
});
