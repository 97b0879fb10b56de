/**
 * Embeddings of knowledge-base passages and of search queries, paid for in credits with the same
 * reserve -> work -> settle as chat (see metered-chat.ts). Vectors are stored as little-endian
 * float32 bytes (document_chunks.embedding), the form OpenAI's base64 encoding also uses.
 */
import type { ServiceCtx } from "../../../lib/context";
import { PaymentRequired } from "../../../lib/errors";
import { ProviderError } from "../../../providers/errors";
import { openai } from "../../../providers/openai";
import { requireOrgId } from "../../identity/auth/principal";
import { creditsFor, lookupPrice } from "../../money/credits/prices";
import { releaseReservation, reserveCredits, settleReservation } from "../../money/credits/reservations";
import { noteCreditsCharged } from "../../money/credits/usage";

/** Inputs per provider request; OpenAI accepts up to 2048, smaller batches keep each call short. */
export const EMBED_BATCH = 256;

export type EmbedOutcome = { vectors: Float32Array[]; model: string; dimensions: number } | { skipped: "not_configured" | "insufficient_credits" };

/** The vector as little-endian float32 bytes, in a buffer of its own. */
export function vectorToBytes(vector: Float32Array): Uint8Array {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i] as number, true);
  return bytes;
}

/** The vector stored by `vectorToBytes`; `bytes` may be a view at any offset (Postgres drivers hand out such views). */
export function bytesToVector(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`an embedding is a whole number of float32 values; got ${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vector = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < vector.length; i++) vector[i] = view.getFloat32(i * 4, true);
  return vector;
}

/** About four characters per token for English text: good enough for a hold, settled on the real count. */
function estimateTokens(texts: string[]): number {
  return texts.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
}

/**
 * Embeds `texts` (in order) with the configured model and dimensions, charging the organisation
 * of `ctx`. Skips, without a provider call or a charge, when no OpenAI key is configured or the
 * credits are short: the caller then indexes for words only. Provider failures propagate as
 * `ProviderError`; the hold is released when no tokens were used, else they are charged.
 */
export async function embedChunks(ctx: ServiceCtx, texts: string[], options: { feature: string }): Promise<EmbedOutcome> {
  const { embeddingModel: model, embeddingDimensions: dimensions } = ctx.config.knowledge;
  if (!ctx.config.openai.apiKey) return { skipped: "not_configured" };
  if (texts.length === 0) return { vectors: [], model, dimensions };
  const orgId = requireOrgId(ctx);
  const { price, source } = lookupPrice("openai", model);

  let reservation: Awaited<ReturnType<typeof reserveCredits>>;
  try {
    reservation = await reserveCredits(ctx, { orgId, amount: creditsFor(price, { inputTokens: estimateTokens(texts) }), feature: options.feature });
  } catch (error) {
    if (error instanceof PaymentRequired) return { skipped: "insufficient_credits" };
    throw error;
  }

  const client = openai(ctx.config);
  const vectors: Float32Array[] = [];
  let inputTokens = 0;
  let answeredModel = model;
  const settle = async () => {
    const settlement = await settleReservation(ctx, reservation.id, creditsFor(price, { inputTokens }), {
      provider: "openai",
      model,
      priceSource: source,
      inputTokens,
    });
    noteCreditsCharged(ctx, settlement.charged);
  };

  try {
    for (let i = 0; i < texts.length; i += EMBED_BATCH) {
      const result = await client.embed({ model, input: texts.slice(i, i + EMBED_BATCH), dimensions });
      inputTokens += result.usage.inputTokens;
      answeredModel = result.model;
      vectors.push(...result.vectors);
    }
  } catch (error) {
    if (inputTokens > 0) {
      // Earlier batches were answered and are paid for; the consumer's retry embeds them again.
      await settle();
    } else {
      await releaseReservation(ctx, reservation.id).catch((releaseError: unknown) =>
        // The hold expires and the reclaim job gives it back; the caller still hears the real cause.
        ctx.log.error("could not release a credit reservation", { reservation_id: reservation.id, error: releaseError }),
      );
    }
    throw error;
  }
  await settle();
  if (vectors.length !== texts.length) throw new Error(`the embedding provider answered ${vectors.length} vectors for ${texts.length} inputs`);
  return { vectors, model: answeredModel, dimensions };
}

/**
 * The embedding of a search query, or null when it cannot be had (no key, no credits, the
 * provider failing): search then ranks by words alone. Never throws for those reasons.
 */
export async function embedQuery(ctx: ServiceCtx, query: string): Promise<Float32Array | null> {
  if (query.trim().length === 0) return null;
  try {
    const outcome = await embedChunks(ctx, [query], { feature: "knowledge.search" });
    return "vectors" in outcome ? (outcome.vectors[0] ?? null) : null;
  } catch (error) {
    // The query is the customer's text: it is not logged, only why embedding it failed.
    const why =
      error instanceof ProviderError
        ? { provider_status: error.status ?? null, provider_code: error.code ?? null }
        : { error: error instanceof Error ? error.name : "unknown" };
    ctx.log.warn("could not embed a search query; searching by words only", why);
    return null;
  }
}
