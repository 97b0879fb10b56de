import { createParser } from "eventsource-parser";
import { apiClient, type ChatRunFigures, grantBenchCredits, type ModelTimer, percentile, runQuestions, timeModelCalls } from "./bench-query.ts";
import type { LocalStack } from "./local-stack.ts";

// Far more than any run spends: a 402 would measure the refusal path instead.
const BENCH_CREDITS = 10_000_000;
const WARM_UP = 5;

export interface SalesChatFigures {
  /** One client, turn after turn in one conversation (the flow walks to farewell and stays there). */
  oneConversation: ChatRunFigures;
  clients: number;
  /** N clients, each turn starting a new conversation: conversations per second. */
  newConversations: ChatRunFigures;
  /** `POST /v1/chatbot/chat/stream`, one client: time to the response's headers and to the first content delta. */
  sse: { turns: number; headersP50Ms: number; firstContentP50Ms: number; firstContentP99Ms: number; addedP50Ms: number; addedP99Ms: number };
}

/**
 * What a sales chat turn costs beyond its models: `POST /v1/chatbot/chat` through auth, the flow,
 * the conversation's Durable Object lock, the planner (structured output, zod), the reply and the
 * memory agents, the charges of each call, and the messages written. The models are the fake
 * OpenAI in this process (unscripted, its planner moves one stage on each turn); their time is
 * taken from the fake's side of the socket and subtracted per turn. For the stream, "added" is
 * the time to the first content delta less the model calls that ended before it (the planner).
 */
export async function measureSalesChat(options: {
  stack: LocalStack;
  baseUrl: string;
  accessToken: string;
  fakeOpenAiUrl: string;
  turns?: number;
  clients?: number;
  sseTurns?: number;
}): Promise<SalesChatFigures> {
  const turns = options.turns ?? Number(process.env.BENCH_CHAT_TURNS ?? 100);
  const clients = options.clients ?? Number(process.env.BENCH_CHAT_CLIENTS ?? 5);
  const sseTurns = options.sseTurns ?? Number(process.env.BENCH_CHAT_SSE_TURNS ?? 50);
  const api = apiClient(options.baseUrl, options.accessToken);
  const me = (await api("GET", "/v1/auth/me", undefined, 200)) as { orgs: { id: string }[] };
  const orgId = me.orgs[0]?.id;
  if (!orgId) throw new Error("the bench user has no organisation");
  await api("GET", "/v1/credits/balance", undefined, 200);
  await grantBenchCredits(options.stack.databaseUrl, orgId, BENCH_CREDITS, "npm run bench: credits for the sales chat");

  const chat = async (body: Record<string, unknown>) => {
    const response = await fetch(`${options.baseUrl}/v1/chatbot/chat`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${options.accessToken}` },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as { conversation_id?: string; reply?: string };
    return { ok: response.status === 200 && typeof answer.reply === "string", status: response.status, answer };
  };
  const first = await chat({ message: "Hello, I am looking for coffee beans" });
  if (!first.ok || !first.answer.conversation_id) throw new Error(`bench turn failed: ${first.status} ${JSON.stringify(first.answer)}`);
  const conversationId = first.answer.conversation_id;
  for (let i = 1; i < WARM_UP; i++) await chat({ message: "Tell me more", conversation_id: conversationId });

  const model = timeModelCalls(options.fakeOpenAiUrl);
  try {
    const oneConversation = await runQuestions(() => chat({ message: "What would you recommend?", conversation_id: conversationId }), model, turns, 1);
    const newConversations = await runQuestions(() => chat({ message: "Hi there" }), model, turns, clients);
    const sse = await measureStream(options.baseUrl, options.accessToken, model, sseTurns);
    return { oneConversation, clients, newConversations, sse };
  } finally {
    model.stop();
  }
}

async function measureStream(baseUrl: string, accessToken: string, model: ModelTimer, count: number): Promise<SalesChatFigures["sse"]> {
  const headers: number[] = [];
  const firstContent: number[] = [];
  const added: number[] = [];
  for (let i = 0; i < count; i++) {
    const callsBefore = model.calls.length;
    const started = performance.now();
    const response = await fetch(`${baseUrl}/v1/chatbot/chat/stream`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ message: "Hi, what do you sell?" }),
    });
    if (response.status !== 200 || !response.body) throw new Error(`bench stream failed: ${response.status} ${await response.text()}`);
    headers.push(performance.now() - started);
    let contentAt: number | undefined;
    const parser = createParser({
      onEvent: (event) => {
        if (event.event === "content" && contentAt === undefined) contentAt = performance.now();
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    if (contentAt === undefined) throw new Error("the bench stream sent no content");
    const ms = contentAt - started;
    firstContent.push(ms);
    const modelBefore = model.calls
      .slice(callsBefore)
      .filter((call) => call.endedAt <= (contentAt as number))
      .reduce((sum, call) => sum + call.ms, 0);
    added.push(ms - modelBefore);
  }
  return {
    turns: count,
    headersP50Ms: percentile(headers, 50),
    firstContentP50Ms: percentile(firstContent, 50),
    firstContentP99Ms: percentile(firstContent, 99),
    addedP50Ms: percentile(added, 50),
    addedP99Ms: percentile(added, 99),
  };
}

/** The figures as `npm run bench` prints them, one `name value` a line. */
export function formatSalesChatFigures(figures: SalesChatFigures): string {
  const round = (value: number) => Math.round(value * 100) / 100;
  const run = (prefix: string, f: ChatRunFigures) => [
    `${prefix}_turns ${f.requests}`,
    `${prefix}_non_200 ${f.non200}`,
    `${prefix}_model_calls_per_turn ${round(f.modelCallsPerRequest)}`,
    `${prefix}_per_s ${round(f.perSecond)}`,
    `${prefix}_latency_p50_ms ${round(f.p50Ms)}`,
    `${prefix}_latency_p99_ms ${round(f.p99Ms)}`,
    `${prefix}_overhead_p50_ms ${round(f.overheadP50Ms)}`,
    ...(f.overheadP99Ms === null ? [] : [`${prefix}_overhead_p99_ms ${round(f.overheadP99Ms)}`]),
  ];
  const { sse } = figures;
  return [
    ...run("sales_chat_1_conversation", figures.oneConversation),
    ...run(`sales_chat_new_conversations_${figures.clients}_clients`, figures.newConversations),
    `sales_chat_sse_turns ${sse.turns}`,
    `sales_chat_sse_headers_p50_ms ${round(sse.headersP50Ms)}`,
    `sales_chat_sse_first_content_p50_ms ${round(sse.firstContentP50Ms)}`,
    `sales_chat_sse_first_content_p99_ms ${round(sse.firstContentP99Ms)}`,
    `sales_chat_sse_first_content_added_p50_ms ${round(sse.addedP50Ms)}`,
    `sales_chat_sse_first_content_added_p99_ms ${round(sse.addedP99Ms)}`,
  ].join("\n");
}
