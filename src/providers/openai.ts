import type OpenAI from "openai";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageFunctionToolCall,
} from "openai/resources/chat/completions";
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import { isRetryableStatus, ProviderError } from "./errors";

export type ChatParams = Omit<ChatCompletionCreateParamsNonStreaming, "stream">;

export interface ToolCall {
  id: string;
  name: string;
  /** Parsed JSON arguments; `undefined` when the model produced invalid JSON. */
  arguments: Record<string, unknown> | undefined;
  rawArguments: string;
}

export interface ChatResult {
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: string;
  usage: { inputTokens: number; outputTokens: number };
  model: string;
}

export interface EmbedParams {
  model: string;
  input: string[];
  /** Shorter vectors, for models that support it (text-embedding-3-*). */
  dimensions?: number;
}

export interface EmbedResult {
  /** One vector per input, in input order. */
  vectors: Float32Array[];
  model: string;
  usage: { inputTokens: number };
}

export interface ImageParams {
  model: string;
  prompt: string;
  size: string;
  /** dall-e-3 only: `vivid` or `natural`. */
  style?: string;
  quality?: string;
}

export interface ImageResult {
  bytes: Uint8Array;
  /** dall-e-3 rewrites prompts and says how; null otherwise. */
  revisedPrompt: string | null;
}

export type ChatStreamEvent = { type: "text"; text: string } | { type: "done"; result: ChatResult };

/**
 * OpenAI (or any OpenAI-compatible endpoint) through the official SDK. Base URL and key come from
 * configuration; without a key every call raises `ProviderUnavailable("OPENAI_API_KEY")`.
 * The SDK is loaded on the first call, not when an isolate starts.
 */
export function openai(config: Config) {
  const client = async () => {
    if (!config.openai.apiKey) throw new ProviderUnavailable("OPENAI_API_KEY");
    return loadOpenAiClient(config.openai.apiKey, config.openai.baseUrl);
  };

  return {
    /**
     * Embeddings of `input`, in its order. No `encoding_format` is sent: the SDK then asks for
     * base64 (a quarter of the bytes of JSON numbers) and decodes it itself.
     */
    async embed(params: EmbedParams): Promise<EmbedResult> {
      try {
        const response = await (await client()).embeddings.create({
          model: params.model,
          input: params.input,
          ...(params.dimensions ? { dimensions: params.dimensions } : {}),
        });
        const vectors = [...response.data].sort((a, b) => a.index - b.index).map((item) => Float32Array.from(item.embedding));
        return { vectors, model: response.model, usage: { inputTokens: response.usage?.prompt_tokens ?? 0 } };
      } catch (error) {
        throw toProviderError(error);
      }
    },
    /**
     * One image from the Images API as bytes: dall-e models are asked for `b64_json` (their
     * default is a URL that expires), gpt-image models answer it always and refuse the parameter.
     * A content-policy refusal is a ProviderError with code `content_policy_violation`.
     */
    async generateImage(params: ImageParams): Promise<ImageResult> {
      try {
        const response = await (await client()).images.generate({
          model: params.model,
          prompt: params.prompt,
          n: 1,
          size: params.size as "1024x1024",
          ...(params.style ? { style: params.style as "vivid" } : {}),
          ...(params.quality ? { quality: params.quality as "standard" } : {}),
          ...(params.model.startsWith("gpt-image") ? {} : { response_format: "b64_json" as const }),
        });
        const image = response.data?.[0];
        if (!image?.b64_json) throw new ProviderError("openai", undefined, undefined, false, "the Images API answered no b64_json image");
        return { bytes: Uint8Array.from(atob(image.b64_json), (c) => c.charCodeAt(0)), revisedPrompt: image.revised_prompt ?? null };
      } catch (error) {
        throw toProviderError(error);
      }
    },
    ...chatCompletions("openai", client),
  };
}

export interface ChatStreamOptions {
  /** Aborting it (a client that went away) cancels the HTTP request to the provider. */
  signal?: AbortSignal;
}

/**
 * Chat Completions on an OpenAI-compatible endpoint: `connect` yields the SDK client (or throws
 * `ProviderUnavailable` without a key); `provider` names it in errors.
 */
export function chatCompletions(provider: string, connect: () => Promise<OpenAI>) {
  return {
    /** One completion, tool calls parsed. */
    async chat(params: ChatParams, options: ChatStreamOptions = {}): Promise<ChatResult> {
      try {
        const completion = await (await connect()).chat.completions.create({ ...params, stream: false }, { signal: options.signal });
        return toResult(completion);
      } catch (error) {
        throw toProviderError(error, provider);
      }
    },

    /** Streams text deltas as they arrive, then one `done` event with the assembled result. */
    async *chatStream(params: ChatParams, options: ChatStreamOptions = {}): AsyncGenerator<ChatStreamEvent> {
      let stream: AsyncIterable<ChatCompletionChunk>;
      try {
        stream = await (await connect()).chat.completions.create(
          { ...params, stream: true, stream_options: { include_usage: true } },
          { signal: options.signal },
        );
      } catch (error) {
        throw toProviderError(error, provider);
      }
      let content = "";
      let finishReason = "stop";
      let model = params.model;
      let usage = { inputTokens: 0, outputTokens: 0 };
      const calls = new Map<number, { id: string; name: string; rawArguments: string }>();
      try {
        for await (const chunk of stream) {
          model = chunk.model ?? model;
          if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
          const choice = chunk.choices[0];
          if (!choice) continue;
          if (choice.finish_reason) finishReason = choice.finish_reason;
          if (choice.delta.content) {
            content += choice.delta.content;
            yield { type: "text", text: choice.delta.content };
          }
          for (const delta of choice.delta.tool_calls ?? []) {
            const call = calls.get(delta.index) ?? { id: "", name: "", rawArguments: "" };
            if (delta.id) call.id = delta.id;
            if (delta.function?.name) call.name = delta.function.name;
            call.rawArguments += delta.function?.arguments ?? "";
            calls.set(delta.index, call);
          }
        }
      } catch (error) {
        throw toProviderError(error, provider);
      }
      const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => ({ ...call, arguments: parseArguments(call.rawArguments) }));
      yield { type: "done", result: { content: toolCalls.length > 0 ? null : content, toolCalls, finishReason, usage, model } };
    },
  };
}

// A module cache, safe to share across requests: it holds code, no connection or key.
let sdk: typeof OpenAI | undefined;

async function loadSdk(): Promise<typeof OpenAI> {
  sdk ??= (await import("openai")).default;
  return sdk;
}

/** An SDK client for one key and base URL (any OpenAI-compatible endpoint), the SDK loaded on first use. */
export async function loadOpenAiClient(apiKey: string, baseURL: string, options: { timeoutMs?: number; maxRetries?: number } = {}): Promise<OpenAI> {
  const OpenAI = await loadSdk();
  return new OpenAI({ apiKey, baseURL, maxRetries: options.maxRetries ?? 2, timeout: options.timeoutMs ?? 60_000 });
}

function toResult(completion: ChatCompletion): ChatResult {
  const choice = completion.choices[0];
  const toolCalls = (choice?.message.tool_calls ?? [])
    .filter((call): call is ChatCompletionMessageFunctionToolCall => call.type === "function")
    .map((call) => ({ id: call.id, name: call.function.name, rawArguments: call.function.arguments, arguments: parseArguments(call.function.arguments) }));
  return {
    content: choice?.message.content ?? null,
    toolCalls,
    finishReason: choice?.finish_reason ?? "stop",
    usage: { inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 },
    model: completion.model,
  };
}

function parseArguments(raw: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(raw) as unknown;
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An SDK error as a `ProviderError` (status, code, retryable, timed out); anything else unchanged.
 * A request we aborted ourselves (the caller's signal) stays the SDK's `APIUserAbortError`.
 */
export function toProviderError(error: unknown, provider = "openai"): unknown {
  if (error instanceof ProviderUnavailable) return error;
  if (sdk !== undefined && error instanceof sdk.APIUserAbortError) return error;
  // Only the SDK throws its errors, so it is loaded whenever `error` can be one.
  if (sdk !== undefined && error instanceof sdk.APIConnectionTimeoutError) {
    return new ProviderError(provider, undefined, undefined, true, "no answer in time", undefined, true);
  }
  if (sdk !== undefined && error instanceof sdk.APIError) {
    const retryAfter = Number(error.headers?.get("retry-after"));
    return new ProviderError(
      provider,
      error.status,
      error.code ?? undefined,
      isRetryableStatus(error.status),
      error.message,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
  return error;
}
