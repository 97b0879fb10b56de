/**
 * A fake of OpenAI's Chat Completions API (`POST /v1/chat/completions`): plain JSON replies,
 * streamed Server-Sent Events (`data: {chunk}` ... `data: [DONE]`), tool calls in both, usage,
 * and OpenAI's error envelope. Scope = the request's `model`, so parallel test files that each
 * use their own model name never see each other's scripts or requests.
 */
import type { ServerResponse } from "node:http";
import { nextScript, recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

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
    if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") {
      return sendJson(res, 404, {
        error: { message: `Unknown request URL: ${req.method} ${url.pathname}`, type: "invalid_request_error", param: null, code: "unknown_url" },
      });
    }
    const body = (req.body ?? {}) as ChatRequest;
    const scope = body.model ?? "";
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) {
      return sendJson(res, 401, { error: { message: "You didn't provide an API key.", type: "invalid_request_error", param: null, code: null } });
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
