/**
 * Admin settings of the sales chatbot: which provider and model each agent uses, and the
 * organisation's versions of the prompts. The chat (flows, the SalesConversation Durable Object)
 * reads them through `agentModel` and `agentPrompt`, and records each model call through
 * `recordModelCall` (re-exported from the billing module, which owns the usage rows).
 */
import { and, eq, sql } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { SALES_AGENTS, salesAgentConfigs, salesPrompts, salesPromptVersions } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { NotFound, Unprocessable } from "../../../lib/errors";
import { configuredLlmProviders, LLM_KEY_VARIABLES, LLM_PROVIDER_LABELS, type LlmProviderName } from "../../../providers/llm";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { llmDefaultFor } from "../../identity/org-settings/service";
import { chatModelPrices, PRICES, type Price } from "../../money/credits/prices";
import { DEFAULT_PROMPTS, isPromptSlug, PROMPT_SLUGS } from "./prompts";

export { ensureChatCredits, recordModelCall } from "../billing/record";
export { DEFAULT_PROMPTS } from "./prompts";

export type SalesAgent = (typeof SALES_AGENTS)[number];

export interface AgentModel {
  provider: LlmProviderName;
  model: string;
}

/**
 * The provider and model `agent` of `orgId` uses: the admin's choice, else the organisation's
 * default chat model (settings `llm` in /v1/org/settings), else the platform's (CHATBOT_DEFAULT_LLM / _MODEL).
 */
export async function agentModel(ctx: ServiceCtx, orgId: string, agent: SalesAgent): Promise<AgentModel> {
  const [row] = await ctx.db
    .select({ provider: salesAgentConfigs.provider, model: salesAgentConfigs.model })
    .from(salesAgentConfigs)
    .where(and(eq(salesAgentConfigs.orgId, orgId), eq(salesAgentConfigs.agent, agent)));
  return row ?? llmDefaultFor(ctx, orgId);
}

/** The text of prompt `slug` that `orgId` uses now: its current version, else the built-in default. */
export async function agentPrompt(ctx: ServiceCtx, orgId: string, slug: string): Promise<string> {
  const [row] = await ctx.db
    .select({ text: salesPromptVersions.text })
    .from(salesPrompts)
    .innerJoin(
      salesPromptVersions,
      and(
        eq(salesPromptVersions.orgId, salesPrompts.orgId),
        eq(salesPromptVersions.slug, salesPrompts.slug),
        eq(salesPromptVersions.version, salesPrompts.currentVersion),
      ),
    )
    .where(and(eq(salesPrompts.orgId, orgId), eq(salesPrompts.slug, slug)));
  return row?.text ?? DEFAULT_PROMPTS[slug] ?? "";
}

export interface AgentConfigView {
  provider: LlmProviderName;
  model: string;
  /** True when the organisation chose nothing for this agent and the platform default applies. */
  is_default: boolean;
}

export type AgentConfigsView = Record<SalesAgent, AgentConfigView>;

/** Every agent's provider and model for the active organisation. */
export async function getAgentConfigs(ctx: ServiceCtx): Promise<AgentConfigsView> {
  assertCan(ctx, "org:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select({ agent: salesAgentConfigs.agent, provider: salesAgentConfigs.provider, model: salesAgentConfigs.model })
    .from(salesAgentConfigs)
    .where(eq(salesAgentConfigs.orgId, orgId));
  const fallback = await llmDefaultFor(ctx, orgId);
  const view = {} as AgentConfigsView;
  for (const agent of SALES_AGENTS) {
    const row = rows.find((r) => r.agent === agent);
    view[agent] = row ? { provider: row.provider, model: row.model, is_default: false } : { ...fallback, is_default: true };
  }
  return view;
}

/** Agents to set (`{provider, model}`) or to return to the platform default (`null`); others stay. */
export type AgentConfigsInput = Partial<Record<SalesAgent, AgentModel | null>>;

/**
 * Sets the given agents' provider and model. A provider without a key on this platform is a 422
 * naming the field (`reply.provider`): choosing it would only fail at the next chat.
 */
export async function putAgentConfigs(ctx: ServiceCtx, input: AgentConfigsInput): Promise<AgentConfigsView> {
  assertCan(ctx, "org:write");
  const orgId = requireOrgId(ctx);
  const configured = configuredLlmProviders(ctx.config);
  const errors = Object.entries(input)
    .filter(([, choice]) => choice && !configured.includes(choice.provider))
    .map(([agent, choice]) => ({
      path: `${agent}.provider`,
      message: `${choice?.provider} is not configured on this platform (${LLM_KEY_VARIABLES[choice?.provider as LlmProviderName]} is not set); choose one of: ${configured.join(", ") || "none"}`,
    }));
  if (errors.length > 0) throw new Unprocessable(errors);
  const now = ctx.now();
  await withTransaction(ctx, async (tx) => {
    for (const agent of SALES_AGENTS) {
      const choice = input[agent];
      if (choice === undefined) continue;
      if (choice === null) {
        await tx.delete(salesAgentConfigs).where(and(eq(salesAgentConfigs.orgId, orgId), eq(salesAgentConfigs.agent, agent)));
        continue;
      }
      const values = { provider: choice.provider, model: choice.model, updatedBy: ctx.actor?.userId ?? null, updatedAt: now };
      await tx
        .insert(salesAgentConfigs)
        .values({ orgId, agent, ...values })
        .onConflictDoUpdate({ target: [salesAgentConfigs.orgId, salesAgentConfigs.agent], set: values });
    }
    await recordAudit(
      { ...ctx, db: tx },
      { orgId, action: "sales.agent_configs.updated", targetType: "organization", targetId: orgId, metadata: { agents: input } },
    );
  });
  return getAgentConfigs(ctx);
}

export interface PromptView {
  slug: string;
  text: string;
  /** The version in use; 0 is the built-in default. */
  version: number;
  /** The highest version the organisation wrote (0 when none). */
  latest_version: number;
  is_default: boolean;
  updated_at: string | null;
}

/** Every prompt slug with the text the active organisation uses now. */
export async function listPrompts(ctx: ServiceCtx): Promise<PromptView[]> {
  assertCan(ctx, "org:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select({
      slug: salesPrompts.slug,
      currentVersion: salesPrompts.currentVersion,
      latestVersion: salesPrompts.latestVersion,
      updatedAt: salesPrompts.updatedAt,
      text: salesPromptVersions.text,
    })
    .from(salesPrompts)
    .leftJoin(
      salesPromptVersions,
      and(
        eq(salesPromptVersions.orgId, salesPrompts.orgId),
        eq(salesPromptVersions.slug, salesPrompts.slug),
        eq(salesPromptVersions.version, salesPrompts.currentVersion),
      ),
    )
    .where(eq(salesPrompts.orgId, orgId));
  return PROMPT_SLUGS.map((slug) => {
    const row = rows.find((r) => r.slug === slug);
    return promptView(slug, row);
  });
}

function promptView(slug: string, row: { currentVersion: number; latestVersion: number; updatedAt: Date; text: string | null } | undefined): PromptView {
  const isDefault = !row || row.currentVersion === 0 || row.text === null;
  return {
    slug,
    text: isDefault ? (DEFAULT_PROMPTS[slug] ?? "") : (row.text ?? ""),
    version: isDefault ? 0 : row.currentVersion,
    latest_version: row?.latestVersion ?? 0,
    is_default: isDefault,
    updated_at: row?.updatedAt.toISOString() ?? null,
  };
}

function assertSlug(slug: string): void {
  if (!isPromptSlug(slug)) throw new NotFound("prompt", slug);
}

async function loadPrompt(ctx: ServiceCtx, slug: string): Promise<PromptView> {
  return (await listPrompts(ctx)).find((p) => p.slug === slug) ?? promptView(slug, undefined);
}

/**
 * Writes a new version of prompt `slug` and makes it current. Versions are numbered per slug from
 * 1; the row lock on `sales_prompts` makes two racing writes take consecutive numbers.
 */
export async function putPrompt(ctx: ServiceCtx, slug: string, text: string): Promise<PromptView> {
  assertCan(ctx, "org:write");
  const orgId = requireOrgId(ctx);
  assertSlug(slug);
  const now = ctx.now();
  const version = await withTransaction(ctx, async (tx) => {
    // Insert-or-bump in one statement: the conflicting row is locked until commit.
    const [head] = await tx
      .insert(salesPrompts)
      .values({ orgId, slug, currentVersion: 1, latestVersion: 1, updatedAt: now })
      .onConflictDoUpdate({
        target: [salesPrompts.orgId, salesPrompts.slug],
        set: { latestVersion: sql`${salesPrompts.latestVersion} + 1`, currentVersion: sql`${salesPrompts.latestVersion} + 1`, updatedAt: now },
      })
      .returning({ version: salesPrompts.currentVersion });
    const next = head?.version ?? 1;
    await tx.insert(salesPromptVersions).values({ orgId, slug, version: next, text, createdBy: ctx.actor?.userId ?? null, createdAt: now });
    await recordAudit({ ...ctx, db: tx }, { orgId, action: "sales.prompt.updated", targetType: "sales_prompt", targetId: slug, metadata: { version: next } });
    return next;
  });
  ctx.log.info("sales prompt updated", { org_id: orgId, slug, version });
  // What this write made current (a racing write may already have replaced it).
  return { slug, text, version, latest_version: version, is_default: false, updated_at: now.toISOString() };
}

/** `PUT /v1/admin/prompts/{slug}`: a new version (`text`) or an earlier one made current (`revert_to`), not both. */
export async function updatePrompt(ctx: ServiceCtx, slug: string, body: { text?: string; revert_to?: number }): Promise<PromptView> {
  assertSlug(slug);
  if (body.text !== undefined && body.revert_to === undefined) return putPrompt(ctx, slug, body.text);
  if (body.revert_to !== undefined && body.text === undefined) return revertPrompt(ctx, slug, body.revert_to);
  throw new Unprocessable([{ path: "text", message: "Send either text (a new version) or revert_to (an earlier version), not both" }]);
}

/** Makes an earlier version of `slug` current again (0: the built-in default). An unknown version is a 422. */
export async function revertPrompt(ctx: ServiceCtx, slug: string, version: number, field = "revert_to"): Promise<PromptView> {
  assertCan(ctx, "org:write");
  const orgId = requireOrgId(ctx);
  assertSlug(slug);
  await withTransaction(ctx, async (tx) => {
    if (version > 0) {
      const [exists] = await tx
        .select({ version: salesPromptVersions.version })
        .from(salesPromptVersions)
        .where(and(eq(salesPromptVersions.orgId, orgId), eq(salesPromptVersions.slug, slug), eq(salesPromptVersions.version, version)));
      if (!exists) throw new Unprocessable([{ path: field, message: `prompt ${slug} has no version ${version}` }]);
    }
    const updated = await tx
      .update(salesPrompts)
      .set({ currentVersion: version, updatedAt: ctx.now() })
      .where(and(eq(salesPrompts.orgId, orgId), eq(salesPrompts.slug, slug)))
      .returning({ slug: salesPrompts.slug });
    // Never written: the default is already current, and any other version does not exist.
    if (updated.length === 0 && version !== 0) throw new Unprocessable([{ path: field, message: `prompt ${slug} has no version ${version}` }]);
    await recordAudit({ ...ctx, db: tx }, { orgId, action: "sales.prompt.reverted", targetType: "sales_prompt", targetId: slug, metadata: { version } });
  });
  return loadPrompt(ctx, slug);
}

export interface LlmPriceView {
  input_per_million_tokens: number;
  output_per_million_tokens: number;
  input_usd_per_million_tokens: string;
  output_usd_per_million_tokens: string;
}

function priceView(price: Price): LlmPriceView {
  const input = price.inputPerMillionTokens ?? 0;
  const output = price.outputPerMillionTokens ?? 0;
  // 1 credit = USD 0.001, so credits per million tokens / 1000 = dollars per million tokens.
  return {
    input_per_million_tokens: input,
    output_per_million_tokens: output,
    input_usd_per_million_tokens: (input / 1000).toFixed(3),
    output_usd_per_million_tokens: (output / 1000).toFixed(3),
  };
}

/** The providers this platform has keys for, each with its chat models and their prices (what an admin may choose). */
export async function llmOptions(ctx: ServiceCtx) {
  assertCan(ctx, "org:read");
  const fallback = await llmDefaultFor(ctx, requireOrgId(ctx));
  return {
    providers: configuredLlmProviders(ctx.config).map((provider) => ({
      provider,
      label: LLM_PROVIDER_LABELS[provider],
      models: chatModelPrices(provider).map(({ model, price }) => ({ model, price: priceView(price) })),
      default_price: priceView(PRICES[provider]?.default ?? {}),
    })),
    default: fallback,
  };
}
