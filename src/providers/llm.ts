/**
 * Chat models of several providers behind one interface. Each provider is reached through its
 * OpenAI-compatible endpoint with the official OpenAI SDK, so `chat` and `chatStream` behave
 * exactly as `openai(config)`'s: same parameters, same results, same errors (named after the
 * provider). Anthropic's compatible endpoint ignores `response_format`: callers that need JSON
 * must validate what comes back.
 */
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import { chatCompletions, loadOpenAiClient } from "./openai";

export type { ChatParams, ChatResult, ChatStreamEvent, ChatStreamOptions } from "./openai";

export type LlmProviderName = "openai" | "anthropic" | "google" | "xai";

export const LLM_PROVIDERS: readonly LlmProviderName[] = ["openai", "anthropic", "google", "xai"];

/** The variable holding each provider's key: named in the 503 when it is missing. */
export const LLM_KEY_VARIABLES: Record<LlmProviderName, string> = {
  openai: "OPENAI_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
  google: "GOOGLE_AI_API_KEY",
  xai: "XAI_API_KEY",
};

/** Names people recognise, for messages. */
export const LLM_PROVIDER_LABELS: Record<LlmProviderName, string> = { openai: "OpenAI", anthropic: "Anthropic", google: "Google", xai: "xAI" };

function endpoint(config: Config, provider: LlmProviderName): { apiKey?: string; baseUrl: string } {
  return provider === "openai" ? config.openai : config.llm[provider];
}

/** Whether `value` names a provider we can talk to (configured or not). */
export function isLlmProviderName(value: unknown): value is LlmProviderName {
  return typeof value === "string" && (LLM_PROVIDERS as readonly string[]).includes(value);
}

/**
 * `chat` and `chatStream` on `provider`'s OpenAI-compatible endpoint. Without its key every call
 * raises `ProviderUnavailable` naming the variable (a 503). Pass `{signal}` to stop the model call
 * when the client that asked goes away.
 */
export function llmProvider(config: Config, provider: LlmProviderName) {
  const { apiKey, baseUrl } = endpoint(config, provider);
  return chatCompletions(provider, async () => {
    if (!apiKey) throw new ProviderUnavailable(LLM_KEY_VARIABLES[provider]);
    return loadOpenAiClient(apiKey, baseUrl);
  });
}

export type LlmProvider = ReturnType<typeof llmProvider>;

/** The providers that have a key, in a fixed order. */
export function configuredLlmProviders(config: Config): LlmProviderName[] {
  return LLM_PROVIDERS.filter((provider) => Boolean(endpoint(config, provider).apiKey));
}
