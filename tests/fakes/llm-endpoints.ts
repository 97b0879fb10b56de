/**
 * The chat providers' OpenAI-compatible endpoints as the OpenAI fake (tests/fakes/openai.ts)
 * serves them: one server, each provider under its own path, the way each real one puts Chat
 * Completions under its base URL (OpenAI and xAI `/v1/`, Anthropic `/v1/`, Google
 * `/v1beta/openai/`). Scripts stay keyed by model, so a test names the provider by the model it
 * scripts and reads back which path and key the request used.
 */

export interface FakeChatEndpoint {
  provider: "openai" | "anthropic" | "google" | "xai";
  /** Anthropic's compatible endpoint ignores `response_format` (no JSON mode): so does its fake. */
  ignoresResponseFormat: boolean;
}

/** Where each provider's base URL points on the fake, relative to the fake's origin. */
export const FAKE_LLM_BASE_PATHS = {
  openai: "/v1",
  anthropic: "/anthropic/v1/",
  google: "/google/v1beta/openai/",
  xai: "/xai/v1",
} as const;

const ENDPOINTS: Record<string, FakeChatEndpoint> = {
  "/v1/chat/completions": { provider: "openai", ignoresResponseFormat: false },
  "/anthropic/v1/chat/completions": { provider: "anthropic", ignoresResponseFormat: true },
  "/google/v1beta/openai/chat/completions": { provider: "google", ignoresResponseFormat: false },
  "/xai/v1/chat/completions": { provider: "xai", ignoresResponseFormat: false },
};

/** The provider whose Chat Completions path `pathname` is, if any. */
export function chatEndpoint(pathname: string): FakeChatEndpoint | undefined {
  return ENDPOINTS[pathname];
}

/** The Worker variables pointing every chat provider at the fake at `origin`, with plainly fake keys. */
export function fakeLlmVars(origin: string, keys: { anthropic: string; google: string; xai: string }): Record<string, string> {
  return {
    ANTHROPIC_API_KEY: keys.anthropic,
    ANTHROPIC_BASE_URL: `${origin}${FAKE_LLM_BASE_PATHS.anthropic}`,
    GOOGLE_AI_API_KEY: keys.google,
    GOOGLE_AI_BASE_URL: `${origin}${FAKE_LLM_BASE_PATHS.google}`,
    XAI_API_KEY: keys.xai,
    XAI_BASE_URL: `${origin}${FAKE_LLM_BASE_PATHS.xai}`,
  };
}
