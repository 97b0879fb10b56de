/**
 * Asking data by voice (`POST /v1/query/audio-chat`): the recording is transcribed, the question
 * goes through the same guarded pipeline as a typed one (a linked database through `askDatabase`,
 * or the organisation's own Billx data through the analyst role), the model says the result in a
 * sentence or two, and that sentence is spoken. One credit hold covers every step and is settled
 * once; a step that fails releases what was not used.
 */
import type { ServiceCtx } from "../../lib/context";
import { AppError } from "../../lib/errors";
import type { SpeechProviderName, SynthesizedSpeech, TtsFormat } from "../../providers/speech";
import { withMeteredChat } from "../content/ai/metered-chat";
import { executeAnalyticsSql, writeAnalyticsSql } from "../data/analytics-sql/service";
import { askDatabase } from "../data/query/service";
import { assertCan, requireOrgId } from "../identity/auth/principal";
import { speechChoiceFor } from "../identity/org-settings/service";
import { type CreditMeter, withCreditMeter } from "../money/credits/meter";
import { creditsFor, lookupPrice } from "../money/credits/prices";
import type { DeclaredRawAudio } from "./audio-format";
import { storeAudio } from "./audio-store";
import { assertFormatOffered, configuredSpeechProvider } from "./providers";
import { ANSWER_MAX_TOKENS, answerPromptTokens, type RowsResult, spokenAnswer } from "./spoken-answer";
import { type SpeechChoiceMade, speakWith } from "./synthesize";
import { billableSecondsEstimate, checkAudio, transcribeWith } from "./transcribe";

export const AUDIO_CHAT_FEATURE = "query.audio_chat";
// The hold assumes the SQL model's longest run (two rounds of a large schema prompt) and the
// longest answer; settling charges only what was used.
const SQL_ESTIMATE = { inputTokens: 16_000, outputTokens: 2048 };
const ANSWER_CHARS_ESTIMATE = ANSWER_MAX_TOKENS * 4;

export interface AudioChatRequest {
  bytes: Uint8Array;
  format?: DeclaredRawAudio;
  database_id?: string;
  conversation_id?: string;
  language?: string;
  provider?: SpeechProviderName;
  voice?: string;
  output_format?: TtsFormat;
  model?: string;
}

export interface AudioChatAnswer {
  transcript: string;
  query_id: string | null;
  conversation_id: string | null;
  sql: string;
  columns: RowsResult["columns"];
  rows: unknown[][];
  truncated: boolean;
  answer_text: string;
}

interface Asked extends AudioChatAnswer {
  speech: SynthesizedSpeech;
}

/** The question answered from rows: a linked database, or the organisation's own data. */
async function askQuestion(ctx: ServiceCtx, meter: CreditMeter, request: AudioChatRequest, question: string, model: string) {
  if (request.database_id) {
    const answer = await askDatabase(
      ctx,
      { database_id: request.database_id, prompt: question, conversation_id: request.conversation_id, model },
      { meter, source: "voice" },
    );
    return { query_id: answer.id, conversation_id: answer.conversation_id, sql: answer.sql, result: answer };
  }
  const written = await writeAnalyticsSql(ctx, { prompt: question, model }, { meter });
  const rows = await executeAnalyticsSql(ctx, { sql: written.sql });
  return { query_id: null, conversation_id: null, sql: written.sql, result: rows };
}

/**
 * A problem from a step after listening, with what was heard added so the caller sees why, and
 * `usage.credits` saying what the whole pipeline is charged so far (listening included): a step's
 * own problem (the SQL guard's refusal) only knows its own part.
 */
function withPipelineContext(error: unknown, transcript: string, meter: CreditMeter): unknown {
  if (!(error instanceof AppError)) return error;
  const stepUsage = error.extensions?.usage;
  const usage = { ...(typeof stepUsage === "object" ? stepUsage : {}), credits: meter.credits };
  return new AppError(error.status, error.type, error.title, error.detail, error.errors, error.headers, { ...error.extensions, transcript, usage });
}

/** What was heard, answered: the question's rows, the sentence written from them, and that sentence spoken. */
async function answerHeard(
  ctx: ServiceCtx,
  meter: CreditMeter,
  request: AudioChatRequest,
  question: string,
  choices: { model: string; speech: SpeechChoiceMade },
): Promise<Asked> {
  if (!question) {
    throw new AppError(422, "https://billx.dev/problems/nothing-heard", "Nothing heard", "The recording has no speech to answer", [
      { path: "file", message: "no speech" },
    ]);
  }
  const asked = await askQuestion(ctx, meter, request, question, choices.model);
  const answerText = await withMeteredChat(
    ctx,
    { feature: AUDIO_CHAT_FEATURE, model: choices.model, estimate: { inputTokens: 0, outputTokens: 0 }, meter },
    (llm) => spokenAnswer(llm, question, asked.sql, asked.result),
  );
  const speech = await speakWith(ctx, meter, answerText.value, choices.speech);
  return {
    transcript: question,
    query_id: asked.query_id,
    conversation_id: asked.conversation_id,
    sql: asked.sql,
    columns: asked.result.columns,
    rows: asked.result.rows,
    truncated: asked.result.truncated,
    answer_text: answerText.value,
    speech,
  };
}

export async function audioChat(ctx: ServiceCtx, request: AudioChatRequest): Promise<Asked & { credits: number }> {
  assertCan(ctx, request.database_id ? "databases:query" : "analytics:query");
  const orgId = requireOrgId(ctx);
  const audio = checkAudio(ctx, request.bytes, request.format, "file");
  const choice = await speechChoiceFor(ctx, { provider: request.provider, voice: request.voice });
  const format = request.output_format ?? "mp3";
  assertFormatOffered(configuredSpeechProvider(ctx.config, choice.provider), format, "output_format");
  const model = request.model ?? ctx.config.linkedDatabases.sqlModel;
  const sqlPrice = lookupPrice("openai", model).price;
  const estimate =
    creditsFor(lookupPrice(choice.provider, choice.stt_model).price, { audioSeconds: billableSecondsEstimate(ctx, audio) }) +
    creditsFor(sqlPrice, SQL_ESTIMATE) +
    creditsFor(sqlPrice, { inputTokens: answerPromptTokens(""), outputTokens: ANSWER_MAX_TOKENS }) +
    creditsFor(lookupPrice(choice.provider, choice.tts_model).price, { characters: ANSWER_CHARS_ESTIMATE });

  const speech = { provider: choice.provider, model: choice.tts_model, voice: choice.voice, format };
  const metered = await withCreditMeter(ctx, { orgId, feature: AUDIO_CHAT_FEATURE, estimate }, async (meter): Promise<Asked> => {
    const heard = await transcribeWith(ctx, meter, audio, { provider: choice.provider, model: choice.stt_model, language: request.language });
    try {
      return await answerHeard(ctx, meter, request, heard.text, { model, speech });
    } catch (error) {
      throw withPipelineContext(error, heard.text, meter);
    }
  });
  return { ...metered.value, credits: metered.credits };
}

/** The JSON answer: the spoken answer stored in R2 behind a short-lived link. */
export async function audioChatJson(ctx: ServiceCtx, request: AudioChatRequest, baseUrl: string) {
  const { speech, credits, ...answer } = await audioChat(ctx, request);
  const bytes = new Uint8Array(await new Response(speech.body).arrayBuffer());
  const stored = await storeAudio(ctx, { bytes, contentType: speech.contentType, source: "audio_chat", baseUrl });
  return { ...answer, audio_url: stored.url, audio_expires_at: stored.expires_at, usage: { credits } };
}
