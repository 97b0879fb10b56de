import { eq } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { type OrgSettingsRecord, organizations } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { NotFound, Unprocessable } from "../../../lib/errors";
import { configuredLlmProviders, LLM_KEY_VARIABLES, type LlmProviderName } from "../../../providers/llm";
import type { SpeechProviderName } from "../../../providers/speech";
import { recordAudit } from "../audit/service";
import { assertCan, requireOrgId } from "../auth/principal";
import type { OrgSettingsView, UpdateOrgSettingsInput } from "./schemas";

/** Each provider's models and voice when neither the request nor the organisation names one. */
export const SPEECH_DEFAULTS: Record<SpeechProviderName, { stt_model: string; tts_model: string; voice: string }> = {
  openai: { stt_model: "whisper-1", tts_model: "gpt-4o-mini-tts", voice: "alloy" },
  elevenlabs: { stt_model: "scribe_v1", tts_model: "eleven_flash_v2_5", voice: "21m00Tcm4TlvDq8ikWAM" },
};

export interface SpeechChoice {
  provider: SpeechProviderName;
  stt_model: string;
  tts_model: string;
  voice: string;
}

/**
 * The speech provider, models and voice for one request: what the request names, else the
 * organisation's setting, else the defaults. The organisation's models and voice belong to its
 * provider: a request for another provider gets that provider's defaults.
 */
export function resolveSpeech(
  stored: OrgSettingsRecord["speech"],
  platformProvider: SpeechProviderName,
  request: Partial<SpeechChoice> = {},
): SpeechChoice & { defaults: (keyof SpeechChoice)[] } {
  const provider = request.provider ?? stored?.provider ?? platformProvider;
  const own = (stored?.provider ?? platformProvider) === provider ? stored : undefined;
  const defaults: (keyof SpeechChoice)[] = [];
  if (!request.provider && !stored?.provider) defaults.push("provider");
  const pick = (key: "stt_model" | "tts_model" | "voice") => {
    const value = request[key] ?? own?.[key];
    if (value) return value;
    defaults.push(key);
    return SPEECH_DEFAULTS[provider][key];
  };
  return { provider, stt_model: pick("stt_model"), tts_model: pick("tts_model"), voice: pick("voice"), defaults };
}

/** The settings jsonb with the two retail choices that are columns of the organisation. */
interface StoredSettings {
  settings: OrgSettingsRecord;
  currency: string;
  pricesIncludeTax: boolean;
}

const storedColumns = { settings: organizations.settings, currency: organizations.currency, pricesIncludeTax: organizations.pricesIncludeTax };

async function stored(ctx: ServiceCtx, orgId: string): Promise<StoredSettings> {
  const [row] = await ctx.db.select(storedColumns).from(organizations).where(eq(organizations.id, orgId));
  if (!row) throw new NotFound("organization", orgId);
  return row;
}

async function storedSettings(ctx: ServiceCtx, orgId: string): Promise<OrgSettingsRecord> {
  return (await stored(ctx, orgId)).settings;
}

/** The active organisation's speech choice for a request (see `resolveSpeech`). */
export async function speechChoiceFor(ctx: ServiceCtx, request: Partial<SpeechChoice> = {}): Promise<SpeechChoice> {
  const settings = await storedSettings(ctx, requireOrgId(ctx));
  return resolveSpeech(settings.speech, ctx.config.speech.defaultProvider, request);
}

function messageSettings(settings: OrgSettingsRecord): OrgSettingsView["messages"] {
  return { payment_receipts: settings.messages?.payment_receipts ?? true };
}

export type BillSettingsView = OrgSettingsView["bills"];

function billSettings(row: StoredSettings, platformReminderDays: number): BillSettingsView {
  const own = row.settings.bills;
  return {
    currency: row.currency,
    prices_include_tax: row.pricesIncludeTax,
    default_tax_rate_bps: own?.default_tax_rate_bps ?? 0,
    footer: own?.footer ?? null,
    reminder_interval_days: own?.reminder_interval_days ?? platformReminderDays,
  };
}

export interface LlmChoice {
  provider: LlmProviderName;
  model: string;
}

function llmSettings(settings: OrgSettingsRecord, ctx: ServiceCtx): OrgSettingsView["llm"] {
  return settings.llm ? { ...settings.llm, is_default: false } : { ...ctx.config.llm.chatbotDefault, is_default: true };
}

function view(row: StoredSettings, ctx: ServiceCtx): OrgSettingsView {
  return {
    speech: resolveSpeech(row.settings.speech, ctx.config.speech.defaultProvider),
    messages: messageSettings(row.settings),
    bills: billSettings(row, ctx.config.bills.reminderIntervalDays),
    llm: llmSettings(row.settings, ctx),
  };
}

/**
 * The organisation's default chat model (settings `llm`), else the platform's (CHATBOT_DEFAULT_LLM /
 * CHATBOT_DEFAULT_MODEL). No permission check: it shapes work the caller is already allowed to do.
 */
export async function llmDefaultFor(ctx: ServiceCtx, orgId: string): Promise<LlmChoice> {
  const { provider, model } = llmSettings(await storedSettings(ctx, orgId), ctx);
  return { provider, model };
}

/** A provider this platform has no key for would only fail at the next chat: refused now, naming the variable. */
function assertLlmConfigured(ctx: ServiceCtx, choice: LlmChoice | null | undefined): void {
  if (!choice) return;
  const configured = configuredLlmProviders(ctx.config);
  if (configured.includes(choice.provider)) return;
  throw new Unprocessable([
    {
      path: "llm.provider",
      message: `${choice.provider} is not configured on this platform (${LLM_KEY_VARIABLES[choice.provider]} is not set); choose one of: ${configured.join(", ") || "none"}`,
    },
  ]);
}

/**
 * An organisation's bill defaults, filled in, for the modules that apply them (bill creation,
 * products, documents). No permission check: they shape what the caller is already allowed to do.
 */
export async function billSettingsFor(ctx: ServiceCtx, orgId: string): Promise<BillSettingsView> {
  return billSettings(await stored(ctx, orgId), ctx.config.bills.reminderIntervalDays);
}

/** Whether the organisation sends its customers a receipt for each recorded payment (on unless turned off). */
export async function paymentReceiptsEnabled(ctx: ServiceCtx, orgId: string): Promise<boolean> {
  return messageSettings(await storedSettings(ctx, orgId)).payment_receipts;
}

export async function getOrgSettings(ctx: ServiceCtx): Promise<OrgSettingsView> {
  assertCan(ctx, "org:read");
  return view(await stored(ctx, requireOrgId(ctx)), ctx);
}

/** The bills part of the stored settings after `patch` (null clears a key back to its default). */
function patchedBills(current: OrgSettingsRecord["bills"], patch: UpdateOrgSettingsInput["bills"]): NonNullable<OrgSettingsRecord["bills"]> {
  const bills = { ...current };
  for (const key of ["default_tax_rate_bps", "footer", "reminder_interval_days"] as const) {
    const value = patch?.[key];
    if (value === null) delete bills[key];
    else if (value !== undefined) (bills as Record<string, unknown>)[key] = value;
  }
  return bills;
}

/** Changes the given settings (null clears one back to its default), audited with before and after. */
export async function updateOrgSettings(ctx: ServiceCtx, patch: UpdateOrgSettingsInput): Promise<OrgSettingsView> {
  assertCan(ctx, "org:write");
  const orgId = requireOrgId(ctx);
  assertLlmConfigured(ctx, patch.llm);
  return withTransaction(ctx, async (tx) => {
    const [row] = await tx.select(storedColumns).from(organizations).where(eq(organizations.id, orgId)).for("update");
    if (!row) throw new NotFound("organization", orgId);
    const speech = { ...row.settings.speech };
    for (const [key, value] of Object.entries(patch.speech ?? {}) as [keyof typeof speech, string | null | undefined][]) {
      if (value === null) delete speech[key];
      else if (value !== undefined) (speech as Record<string, string>)[key] = value;
    }
    const messages = { ...row.settings.messages };
    const receipts = patch.messages?.payment_receipts;
    if (receipts === null) delete messages.payment_receipts;
    else if (receipts !== undefined) messages.payment_receipts = receipts;
    const settings: OrgSettingsRecord = { ...row.settings, speech, messages, bills: patchedBills(row.settings.bills, patch.bills) };
    if (patch.llm === null) delete settings.llm;
    else if (patch.llm) settings.llm = patch.llm;
    // Currency and tax-inclusive pricing stay the organisation's columns, which PATCH /v1/orgs also sets.
    const after: StoredSettings = {
      settings,
      currency: patch.bills?.currency ?? row.currency,
      pricesIncludeTax: patch.bills?.prices_include_tax ?? row.pricesIncludeTax,
    };
    await tx
      .update(organizations)
      .set({ ...after, updatedAt: ctx.now() })
      .where(eq(organizations.id, orgId));
    await recordAudit(
      { ...ctx, db: tx },
      { orgId, action: "org.settings_updated", targetType: "organization", targetId: orgId, metadata: { from: row, to: after } },
    );
    return view(after, ctx);
  });
}
