/**
 * A fake of OpenAI's Chat Completions API (`POST /v1/chat/completions`): plain JSON replies,
 * streamed Server-Sent Events (`data: {chunk}` ... `data: [DONE]`), tool calls in both, usage,
 * and OpenAI's error envelope. Also `POST /v1/embeddings`, with vectors that mean something
 * (see `embedText`), as floats or base64. Scope = the request's `model`, so parallel test files that each
 * use their own model name never see each other's scripts or requests.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type FakeState, nextScript, recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** What the next completion for a model says: text, or tool calls. */
export interface ChatScript {
  content?: string;
  tool_calls?: ScriptedToolCall[];
}

interface ChatRequest {
  model?: string;
  messages?: { role: string; content?: unknown }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

let sequence = 0;

export function startFakeOpenAI() {
  return startFake<ChatScript>((req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (req.method === "POST" && url.pathname === "/v1/embeddings") return embeddings(req, res, state);
    if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") {
      return sendJson(res, 404, {
        error: { message: `Unknown request URL: ${req.method} ${url.pathname}`, type: "invalid_request_error", param: null, code: "unknown_url" },
      });
    }
    const body = (req.body ?? {}) as ChatRequest;
    const scope = body.model ?? "";
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) {
      return sendJson(res, 401, UNAUTHORIZED);
    }
    if (recordAndMaybeFail(req, res, state, scope)) return;
    if (!body.model || !Array.isArray(body.messages) || body.messages.length === 0) {
      return sendJson(res, 400, {
        error: { message: "'model' and 'messages' are required", type: "invalid_request_error", param: body.model ? "messages" : "model", code: null },
      });
    }

    const script = nextScript(state, scope) ?? { content: `You said: ${lastUserText(body)}` };
    const id = `chatcmpl-fake${++sequence}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = countTokens(JSON.stringify(body.messages));
    const completionTokens = countTokens(script.content ?? JSON.stringify(script.tool_calls ?? []));
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const toolCalls = (script.tool_calls ?? []).map((call, index) => ({
      index,
      id: `call_fake${sequence}_${index}`,
      type: "function" as const,
      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
    }));
    const finishReason = toolCalls.length > 0 ? "tool_calls" : "stop";

    if (!body.stream) {
      return sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: toolCalls.length > 0 ? null : (script.content ?? ""),
              refusal: null,
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls.map(({ index: _i, ...call }) => call) } : {}),
            },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        usage,
      });
    }

    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      send(res, { id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
    chunk({ role: "assistant", content: "" }, null);
    if (toolCalls.length > 0) {
      for (const call of toolCalls) {
        chunk({ tool_calls: [{ index: call.index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] }, null);
        // Arguments arrive in fragments, as the real API sends them.
        for (const part of splitInto(call.function.arguments, 3)) chunk({ tool_calls: [{ index: call.index, function: { arguments: part } }] }, null);
      }
    } else {
      for (const word of (script.content ?? "").match(/\S+\s*/g) ?? []) chunk({ content: word }, null);
    }
    chunk({}, finishReason);
    if (body.stream_options?.include_usage) send(res, { id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage });
    res.end("data: [DONE]\n\n");
  });
}

const UNAUTHORIZED = { error: { message: "You didn't provide an API key.", type: "invalid_request_error", param: null, code: null } };
const MAX_EMBEDDING_INPUTS = 2048;

interface EmbeddingRequest {
  model?: unknown;
  input?: unknown;
  dimensions?: unknown;
  encoding_format?: unknown;
}

function embeddings(req: IncomingMessage & { body: unknown }, res: ServerResponse, state: FakeState<ChatScript>) {
  const body = (req.body && typeof req.body === "object" ? req.body : {}) as EmbeddingRequest;
  const model = typeof body.model === "string" ? body.model : "";
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) return sendJson(res, 401, UNAUTHORIZED);
  if (recordAndMaybeFail(req, res, state, model)) return;
  const invalid = (message: string, param: string) => sendJson(res, 400, { error: { message, type: "invalid_request_error", param, code: null } });
  if (!model) return invalid("you must provide a model parameter", "model");
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((i) => typeof i === "string")) {
    return invalid("'input' must be a non-empty string or array of strings", "input");
  }
  if (inputs.length > MAX_EMBEDDING_INPUTS) return invalid(`'input' must have at most ${MAX_EMBEDDING_INPUTS} items`, "input");
  if (inputs.some((i) => i.length === 0)) return invalid("'input' cannot contain an empty string", "input");
  const dimensions = body.dimensions === undefined ? defaultDimensions(model) : body.dimensions;
  if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > defaultDimensions(model)) {
    return invalid(`'dimensions' must be an integer between 1 and ${defaultDimensions(model)}`, "dimensions");
  }
  const base64 = body.encoding_format === "base64";
  const data = inputs.map((text, index) => {
    const vector = embedText(text, dimensions);
    return {
      object: "embedding",
      index,
      embedding: base64 ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64") : Array.from(vector),
    };
  });
  const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
  return sendJson(res, 200, { object: "list", data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

function defaultDimensions(model: string): number {
  return model.startsWith("text-embedding-3-large") ? 3072 : 1536;
}

/**
 * A deterministic embedding that behaves like one: each (lower-cased, lightly stemmed) word
 * adds ±1 at a hashed dimension, then the vector is L2-normalised. Texts sharing words point the
 * same way, so cosine similarity ranks related texts above unrelated ones.
 * Float32Array stores little-endian on every platform Node runs on, as OpenAI's base64 is.
 */
export function embedText(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const hash = fnv1a(stem(word));
    const at = hash % dimensions;
    vector[at] = (vector[at] as number) + (hash & 0x80000000 ? -1 : 1);
  }
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

/** Light stemming: "boxes", "prices", "booking", "booked" become "box", "price", "book", "book". */
function stem(word: string): string {
  if (word.length <= 4) return word;
  if (/(?:[sxz]|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (/(?:ing|ed)$/.test(word)) return word.replace(/(?:ing|ed)$/, "");
  if (word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

/** 32-bit FNV-1a of the UTF-16 code units: stable across runs and processes. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function send(res: ServerResponse, data: unknown) {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

function lastUserText(body: ChatRequest): string {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === "user");
  return typeof last?.content === "string" ? last.content : JSON.stringify(last?.content ?? "");
}

function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function splitInto(text: string, parts: number): string[] {
  const size = Math.ceil(text.length / parts) || 1;
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
