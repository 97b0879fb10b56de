/**
 * Marketing text for a shop's channels, paid in credits through the metered chat. Each kind has
 * a length limit (an SMS a number of segments); a first draft over it is sent back to the model
 * once with its length, and a second one still over it is cut at a word boundary, so the answer
 * always fits and never costs more than two completions.
 */
import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import { aiContents } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { DEFAULT_COMPLETION_MODEL } from "../../money/credits/prices";
import { withMeteredChat } from "./metered-chat";
import type { AiContentView, AiTextView, TextInput, TextKind } from "./schemas";
import { estimatePromptTokens } from "./service";
import { characterCount, smsSize, trimToFit } from "./text-limits";

export const TEXT_FEATURE = "ai.text";
/** Segments an SMS takes unless `max_segments` says otherwise: one, the price of one message. */
export const DEFAULT_SMS_SEGMENTS = 1;

// Characters by default and at most, per kind (an SMS's ceiling is three GSM-7 segments).
const CHAR_LIMITS: Record<TextKind, { default: number; max: number }> = {
  sms: { default: 160, max: 459 },
  whatsapp: { default: 1000, max: 4096 },
  email: { default: 2000, max: 10_000 },
  social_post: { default: 280, max: 2200 },
  product_description: { default: 600, max: 5000 },
  offer: { default: 300, max: 1000 },
};

const KIND_WRITING: Record<TextKind, string> = {
  product_description: "a product description for the shop's catalogue",
  sms: "a marketing SMS to the shop's customers",
  whatsapp: "a WhatsApp message to the shop's customers",
  email: "a marketing email to the shop's customers (a subject line, a blank line, then the body)",
  social_post: "a social media post for the shop",
  offer: "a short promotional offer text",
};

interface Limit {
  fits(text: string): boolean;
  /** The limit as the model is told it. */
  describe: string;
  /** What a draft measured, for the one request to shorten it. */
  measure(text: string): string;
  maxChars: number;
}

function limitFor(input: TextInput): Limit {
  const ceiling = CHAR_LIMITS[input.kind];
  if (input.max_chars !== undefined && input.max_chars > ceiling.max) {
    throw new Unprocessable([{ path: "max_chars", message: `at most ${ceiling.max} for ${input.kind}` }]);
  }
  if (input.kind !== "sms") {
    if (input.max_segments !== undefined) throw new Unprocessable([{ path: "max_segments", message: "only an SMS has segments" }]);
    const maxChars = input.max_chars ?? ceiling.default;
    return {
      fits: (text) => characterCount(text) <= maxChars,
      describe: `at most ${maxChars} characters`,
      measure: (text) => `${characterCount(text)} characters`,
      maxChars,
    };
  }
  const segments = input.max_segments ?? DEFAULT_SMS_SEGMENTS;
  const gsmChars = segments === 1 ? 160 : segments * 153;
  const maxChars = Math.min(input.max_chars ?? gsmChars, gsmChars);
  return {
    fits: (text) => smsSize(text).segments <= segments && characterCount(text) <= maxChars,
    describe: `at most ${maxChars} characters using only plain letters, digits and basic punctuation (no emoji or curly quotes: one of those halves what an SMS segment holds), so that it fits ${segments} SMS segment${segments === 1 ? "" : "s"}`,
    measure: (text) => {
      const size = smsSize(text);
      return `${characterCount(text)} characters, ${size.segments} segment${size.segments === 1 ? "" : "s"} as ${size.encoding === "gsm7" ? "GSM-7" : "UCS-2 (a character outside GSM-7)"}`;
    },
    maxChars,
  };
}

/** The model's answer as text: without quotes around it or a "Here is..." line before it. */
function cleanDraft(content: string | null): string {
  let text = (content ?? "").trim();
  text = text.replace(/^(here(?:'s| is)[^\n]*:)\s*/i, "");
  const quoted = /^["“'](.*)["”']$/s.exec(text);
  return (quoted?.[1] ?? text).trim();
}

/** Writes a text for `input.kind` within its limit, charges it, and keeps it in the history. */
export async function writeText(ctx: ServiceCtx, input: TextInput): Promise<AiTextView> {
  assertCan(ctx, "ai:use");
  const orgId = requireOrgId(ctx);
  const limit = limitFor(input);
  const model = input.model ?? DEFAULT_COMPLETION_MODEL;
  const messages = [
    {
      role: "system" as const,
      content: `You write ${KIND_WRITING[input.kind]} in a ${input.style} tone, in the language with tag "${input.language}". Keep it ${limit.describe}. Answer with the text only: no quotes around it, no preamble, no notes.`,
    },
    { role: "user" as const, content: input.prompt },
  ];
  // Generous for the characters asked (a token is rarely under 2 characters), with room for a subject line.
  const maxTokens = Math.min(4096, Math.ceil(limit.maxChars / 2) + 64);
  const promptTokens = estimatePromptTokens(messages);
  // Sized for the worst case: the draft and one rewrite, which also reads the draft.
  const estimate = { inputTokens: promptTokens * 2 + maxTokens, outputTokens: maxTokens * 2 };
  const metered = await withMeteredChat(ctx, { feature: TEXT_FEATURE, model, estimate }, async (llm) => {
    const first = await llm.chat({ messages, max_completion_tokens: maxTokens });
    const draft = cleanDraft(first.content);
    if (limit.fits(draft)) return { text: draft, model: first.model, adjusted: "none" as const };
    const second = await llm.chat({
      messages: [
        ...messages,
        { role: "assistant", content: draft },
        { role: "user", content: `That is ${limit.measure(draft)}. Rewrite it to be ${limit.describe}, keeping the offer and the facts.` },
      ],
      max_completion_tokens: maxTokens,
    });
    const rewrite = cleanDraft(second.content);
    if (limit.fits(rewrite) && rewrite !== "") return { text: rewrite, model: second.model, adjusted: "rewritten" as const };
    return { text: trimToFit(rewrite || draft, limit.fits), model: second.model, adjusted: "trimmed" as const };
  });
  const { text, adjusted } = metered.value;
  const [row] = await ctx.db
    .insert(aiContents)
    .values({
      id: newId("aic"),
      orgId,
      kind: input.kind,
      style: input.style,
      language: input.language,
      prompt: input.prompt,
      text,
      model: metered.value.model,
      inputTokens: metered.usage.inputTokens,
      outputTokens: metered.usage.outputTokens,
      credits: metered.credits,
      createdBy: ctx.actor?.userId ?? null,
      createdAt: ctx.now(),
    })
    .returning();
  const size = input.kind === "sms" ? smsSize(text) : null;
  return {
    id: row!.id,
    kind: input.kind,
    style: input.style,
    language: input.language,
    text,
    characters: characterCount(text),
    sms: size ? { encoding: size.encoding, segments: size.segments } : null,
    adjusted,
    model: metered.value.model,
    usage: { input_tokens: metered.usage.inputTokens, output_tokens: metered.usage.outputTokens },
    credits_charged: metered.credits,
    balance: metered.balance,
    created_at: row!.createdAt.toISOString(),
  };
}

type ContentRow = typeof aiContents.$inferSelect;

function contentView(row: ContentRow): AiContentView {
  const { id, kind, style, language, prompt, text, model, credits } = row;
  const usage = { input_tokens: row.inputTokens, output_tokens: row.outputTokens };
  return { id, kind, style, language, prompt, text, file_id: row.fileId, model, usage, credits, created_at: row.createdAt.toISOString() };
}

/** The organisation's AI texts and banners, newest first. */
export async function listAiContent(ctx: ServiceCtx, query: PageRequest & { kind?: ContentRow["kind"] }): Promise<Page<AiContentView>> {
  assertCan(ctx, "ai:read");
  const filters: SQL[] = [eq(aiContents.orgId, requireOrgId(ctx))];
  if (query.kind) filters.push(eq(aiContents.kind, query.kind));
  if (query.cursor) filters.push(lt(aiContents.id, query.cursor));
  const rows = await ctx.db
    .select()
    .from(aiContents)
    .where(and(...filters))
    .orderBy(desc(aiContents.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (row) => row.id, contentView);
}
