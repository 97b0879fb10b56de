import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/env";
import { ProviderUnavailable } from "../src/lib/errors";
import { ProviderError } from "../src/providers/errors";
import { type ChatStreamEvent, openai } from "../src/providers/openai";
import { fakeOpenAI, testEnv } from "./harness/helpers";

// Each test uses its own model name: the fake keys scripts and recorded requests by model.
const provider = () => openai(loadConfig(testEnv));

describe("OpenAI provider against the fake, through the official SDK", () => {
  it("returns a plain completion with usage, sending the key and the messages", async () => {
    await fakeOpenAI.script("gpt-plain", [{ content: "Revenue last month was 1,204 dollars." }]);
    const result = await provider().chat({ model: "gpt-plain", messages: [{ role: "user", content: "What was revenue last month?" }] });
    expect(result.content).toBe("Revenue last month was 1,204 dollars.");
    expect(result.finishReason).toBe("stop");
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);

    const [request] = await fakeOpenAI.requests("gpt-plain");
    expect(request?.headers.authorization).toBe("Bearer sk-test-fake");
    expect(request?.body.messages).toEqual([{ role: "user", content: "What was revenue last month?" }]);
  });

  it("parses tool calls with their JSON arguments", async () => {
    await fakeOpenAI.script("gpt-tools", [{ tool_calls: [{ name: "check_availability", arguments: { date: "2026-11-26", time: "10:00" } }] }]);
    const result = await provider().chat({
      model: "gpt-tools",
      messages: [{ role: "user", content: "Book me tomorrow at ten" }],
      tools: [
        {
          type: "function",
          function: { name: "check_availability", parameters: { type: "object", properties: { date: { type: "string" }, time: { type: "string" } } } },
        },
      ],
    });
    expect(result.finishReason).toBe("tool_calls");
    expect(result.content).toBeNull();
    expect(result.toolCalls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        name: "check_availability",
        arguments: { date: "2026-11-26", time: "10:00" },
        rawArguments: '{"date":"2026-11-26","time":"10:00"}',
      },
    ]);
    const [request] = await fakeOpenAI.requests("gpt-tools");
    expect(request?.body.tools).toHaveLength(1);
  });

  it("streams text as Server-Sent Events and ends with the assembled result and usage", async () => {
    await fakeOpenAI.script("gpt-stream", [{ content: "We open at ten on Saturday." }]);
    const events: ChatStreamEvent[] = [];
    for await (const event of provider().chatStream({ model: "gpt-stream", messages: [{ role: "user", content: "Saturday hours?" }] })) events.push(event);
    const texts = events.filter((e) => e.type === "text").map((e) => e.text);
    expect(texts.length).toBeGreaterThan(3);
    expect(texts.join("")).toBe("We open at ten on Saturday.");
    const done = events.at(-1);
    expect(done?.type === "done" && done.result).toMatchObject({ content: "We open at ten on Saturday.", finishReason: "stop", model: "gpt-stream" });
    expect(done?.type === "done" && done.result.usage.outputTokens).toBeGreaterThan(0);
    const [request] = await fakeOpenAI.requests("gpt-stream");
    expect(request?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it("assembles streamed tool-call arguments that arrive in fragments", async () => {
    await fakeOpenAI.script("gpt-stream-tools", [{ tool_calls: [{ name: "search_knowledge", arguments: { query: "parking near the salon" } }] }]);
    let result: unknown;
    for await (const event of provider().chatStream({ model: "gpt-stream-tools", messages: [{ role: "user", content: "Is there parking?" }] })) {
      if (event.type === "done") result = event.result;
    }
    expect(result).toMatchObject({ finishReason: "tool_calls", toolCalls: [{ name: "search_knowledge", arguments: { query: "parking near the salon" } }] });
  });

  it("retries a 500 and succeeds", async () => {
    await fakeOpenAI.fail("gpt-flaky", [
      { status: 500, body: { error: { message: "The server had an error", type: "server_error", param: null, code: null } } },
    ]);
    const result = await provider().chat({ model: "gpt-flaky", messages: [{ role: "user", content: "hello" }] });
    expect(result.content).toBe("You said: hello");
    expect(await fakeOpenAI.requests("gpt-flaky")).toHaveLength(2);
  });

  it("turns a 400 into a non-retryable ProviderError carrying OpenAI's code", async () => {
    await fakeOpenAI.fail("gpt-bad", [
      {
        status: 400,
        body: { error: { message: "Invalid schema for function", type: "invalid_request_error", param: "tools", code: "invalid_function_parameters" } },
      },
    ]);
    const error = await provider()
      .chat({ model: "gpt-bad", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ provider: "openai", status: 400, code: "invalid_function_parameters", retryable: false });
  });

  it("says which variable to set when no key is configured", async () => {
    const unconfigured = openai(loadConfig({ ...testEnv, OPENAI_API_KEY: undefined }));
    const error = await unconfigured.chat({ model: "gpt-x", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailable);
    expect((error as ProviderUnavailable).detail).toBe("Set OPENAI_API_KEY to enable this feature");
  });
});
