import diagnostics from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import pg from "pg";
import { newId } from "../../src/lib/ids.ts";
import { withLinkedDatabase } from "../../src/modules/data/databases/connection.ts";
import { type ExecutionLimits, runReadOnly } from "../../src/modules/data/databases/execute.ts";
import { loadChinook } from "../../tests/harness/sample-databases.ts";
import type { LocalStack } from "./local-stack.ts";

/** The model name wrangler dev is given; the fake OpenAI keys its scripts by it. */
export const BENCH_SQL_MODEL = "gpt-4o-mini";

/** What the fake model answers every question with: a join and an aggregate over Chinook. */
const BENCH_SQL =
  "SELECT c.country, count(*) AS customers, sum(i.total) AS revenue FROM customer c JOIN invoice i ON i.customer_id = c.customer_id GROUP BY c.country ORDER BY revenue DESC LIMIT 10";
const PROMPT = "Which ten countries bring in the most revenue, and how many customers do they have?";
const EXPECTED_ROWS = 10;
// Far more than any run spends: a 402 would measure the refusal path instead.
const BENCH_CREDITS = 10_000_000;
const WARM_UP = 10;
// The app's defaults (QUERY_TIMEOUT_MS, QUERY_MAX_ROWS, QUERY_MAX_BYTES), for the database share.
const LIMITS: ExecutionLimits = { timeoutMs: 5000, maxRows: 1000, maxBytes: 1_000_000, searchPath: "public" };
const DB_RUNS = 50;

export interface ChatRunFigures {
  requests: number;
  non200: number;
  /** Completions the fake answered per question; 1 unless a repair round ran. */
  modelCallsPerRequest: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Time inside the fake model per completion, from its request's headers to its response's end. */
  modelP50Ms: number;
  /**
   * Total less model time. One client: paired per request (each question's own completions),
   * so p99 is meaningful. Several clients: completions cannot be paired with their question,
   * so p50 total less p50 model, and no p99.
   */
  overheadP50Ms: number;
  overheadP99Ms: number | null;
}

export interface QueryChatFigures {
  oneClient: ChatRunFigures;
  clients: number;
  manyClients: ChatRunFigures;
  /** The app's own read-only execution (postgres.js, one connection per question, as in the Worker), timed from Node. */
  dbConnectAndRunP50Ms: number;
  /** The same on a connection kept open: the query and its read-only transaction alone. */
  dbRunP50Ms: number;
}

/** Vars that point wrangler dev's model at the fake OpenAI running in this process. */
export function benchModelVars(fakeOpenAiUrl: string): Record<string, string> {
  return { OPENAI_BASE_URL: `${fakeOpenAiUrl}/v1`, OPENAI_API_KEY: "bench-openai-key", SQL_MODEL: BENCH_SQL_MODEL };
}

/**
 * End-to-end cost of `POST /v1/query/chat` less the model's time, against Chinook: auth, the
 * credit hold, schema context, the model call through the SDK, the SQL guard, the read-only run
 * over TCP, the history row and the settlement. The model is the fake OpenAI in this process,
 * answering every question with the same tool call; its time is taken from its side of the
 * socket (Node's HTTP diagnostics channels) and subtracted. Loopback to the fake and the SDK's
 * work stay in the overhead, as a real provider's network would.
 */
export async function measureQueryChat(options: {
  stack: LocalStack;
  baseUrl: string;
  accessToken: string;
  fakeOpenAiUrl: string;
  /** Questions per run; one user's API limit is 600 a minute, and both runs share it. */
  requests?: number;
  clients?: number;
}): Promise<QueryChatFigures> {
  const requests = options.requests ?? Number(process.env.BENCH_QUERY_REQUESTS ?? 100);
  const clients = options.clients ?? Number(process.env.BENCH_QUERY_CLIENTS ?? 5);
  const api = apiClient(options.baseUrl, options.accessToken);

  const { readerUrl } = await loadChinook(options.stack.postgres.adminUrl, options.stack.postgres.urlFor);
  const me = (await api("GET", "/v1/auth/me", undefined, 200)) as { orgs: { id: string }[] };
  const orgId = me.orgs[0]?.id;
  if (!orgId) throw new Error("the bench user has no organisation");
  // The app creates the balance row (with the free allowance) on first look; the grant goes on top.
  await api("GET", "/v1/credits/balance", undefined, 200);
  await grantBenchCredits(options.stack.databaseUrl, orgId, BENCH_CREDITS);
  const database = (await api("POST", "/v1/databases", { name: "Chinook (bench)", url: readerUrl }, 201)) as { id: string };

  await scriptModel(options.fakeOpenAiUrl, WARM_UP + 2 * requests);
  const model = timeModelCalls(options.fakeOpenAiUrl);
  try {
    const ask = async () => {
      const response = await fetch(`${options.baseUrl}/v1/query/chat`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${options.accessToken}` },
        body: JSON.stringify({ database_id: database.id, prompt: PROMPT }),
      });
      const body = (await response.json()) as { row_count?: number };
      return { ok: response.status === 200 && body.row_count === EXPECTED_ROWS, status: response.status, body };
    };
    const first = await ask();
    if (!first.ok) throw new Error(`bench question failed: ${first.status} ${JSON.stringify(first.body)}`);
    for (let i = 1; i < WARM_UP; i++) await ask();

    const oneClient = await runQuestions(ask, model, requests, 1);
    const manyClients = await runQuestions(ask, model, requests, clients);
    const db = await measureDatabaseShare(readerUrl);
    return { oneClient, clients, manyClients, ...db };
  } finally {
    model.stop();
  }
}

export interface ModelTimer {
  /** Completion times in the order they ended, with when each ended (performance.now()). */
  calls: { endedAt: number; ms: number }[];
  stop(): void;
}

/**
 * Times each chat completion the fake answers, from the moment its request's headers are parsed
 * to the end of its response, without touching the fake: Node publishes both moments on its
 * HTTP diagnostics channels for every server in the process, so the fake's port picks its own.
 */
export function timeModelCalls(fakeUrl: string): ModelTimer {
  const port = Number(new URL(fakeUrl).port);
  const started = new WeakMap<IncomingMessage, number>();
  const calls: ModelTimer["calls"] = [];
  const isCompletion = (request: IncomingMessage) => request.socket?.localPort === port && (request.url ?? "").startsWith("/v1/chat/completions");
  const onStart = (message: unknown) => {
    const { request } = message as { request: IncomingMessage };
    if (isCompletion(request)) started.set(request, performance.now());
  };
  const onFinish = (message: unknown) => {
    const { request } = message as { request: IncomingMessage };
    const at = started.get(request);
    if (at === undefined) return;
    const endedAt = performance.now();
    calls.push({ endedAt, ms: endedAt - at });
  };
  diagnostics.subscribe("http.server.request.start", onStart);
  diagnostics.subscribe("http.server.response.finish", onFinish);
  return {
    calls,
    stop() {
      diagnostics.unsubscribe("http.server.request.start", onStart);
      diagnostics.unsubscribe("http.server.response.finish", onFinish);
    },
  };
}

/** Runs `count` requests from `clients` concurrent clients, timing each and pairing it with the model calls it made (one client). */
export async function runQuestions(ask: () => Promise<{ ok: boolean }>, model: ModelTimer, count: number, clients: number): Promise<ChatRunFigures> {
  model.calls.length = 0;
  const totals: number[] = [];
  const paired: number[] = [];
  let next = 0;
  let failures = 0;
  const client = async () => {
    while (next < count) {
      next++;
      const callsBefore = model.calls.length;
      const started = performance.now();
      const { ok } = await ask();
      const ms = performance.now() - started;
      totals.push(ms);
      if (!ok) failures++;
      // Alone, every completion that ended during this question was this question's.
      if (clients === 1) paired.push(ms - model.calls.slice(callsBefore).reduce((sum, call) => sum + call.ms, 0));
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (performance.now() - started) / 1000;
  const modelTimes = model.calls.map((call) => call.ms);
  const p50Ms = percentile(totals, 50);
  const modelP50Ms = percentile(modelTimes, 50);
  return {
    requests: totals.length,
    non200: failures,
    modelCallsPerRequest: modelTimes.length / totals.length,
    perSecond: totals.length / seconds,
    p50Ms,
    p99Ms: percentile(totals, 99),
    modelP50Ms,
    overheadP50Ms: clients === 1 ? percentile(paired, 50) : p50Ms - modelP50Ms,
    overheadP99Ms: clients === 1 ? percentile(paired, 99) : null,
  };
}

/** The share of the database: the app's own execution code, run from Node against Chinook. */
async function measureDatabaseShare(readerUrl: string): Promise<Pick<QueryChatFigures, "dbConnectAndRunP50Ms" | "dbRunP50Ms">> {
  const run = (sql: Parameters<typeof runReadOnly>[0]) => runReadOnly(sql, BENCH_SQL, [], LIMITS, () => performance.now());
  const fresh: number[] = [];
  for (let i = 0; i < DB_RUNS; i++) {
    const started = performance.now();
    await withLinkedDatabase(readerUrl, run);
    fresh.push(performance.now() - started);
  }
  const warm = await withLinkedDatabase(readerUrl, async (sql) => {
    await run(sql);
    const timings: number[] = [];
    for (let i = 0; i < DB_RUNS; i++) {
      const started = performance.now();
      await run(sql);
      timings.push(performance.now() - started);
    }
    return timings;
  });
  return { dbConnectAndRunP50Ms: percentile(fresh, 50), dbRunP50Ms: percentile(warm, 50) };
}

/** Queues the same tool call for every completion the run will ask for; unscripted ones would answer in prose. */
async function scriptModel(fakeUrl: string, count: number) {
  const answer = {
    tool_calls: [
      {
        name: "answer_with_sql",
        arguments: { sql: BENCH_SQL, explanation: "The ten countries with the most invoiced revenue." },
      },
    ],
  };
  const response = await fetch(`${fakeUrl}/_fake/scripts`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ scope: BENCH_SQL_MODEL, responses: Array.from({ length: count }, () => answer) }),
  });
  if (response.status !== 204) throw new Error(`scripting the fake model failed: ${response.status}`);
}

/**
 * Credits for the run, written as the ledger writes a grant: under the balance row's lock, one
 * entry whose `balance_after` is the new balance, and the balance moved by the same amount.
 */
export async function grantBenchCredits(databaseUrl: string, orgId: string, amount: number, note = "npm run bench: credits for /v1/query/chat") {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("BEGIN");
    const locked = await client.query<{ balance: number }>("SELECT balance FROM credit_balances WHERE org_id = $1 FOR UPDATE", [orgId]);
    const before = locked.rows[0]?.balance;
    if (before === undefined) throw new Error("the bench organisation has no balance row");
    await client.query(
      `INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id, note)
       VALUES ($1, $2, 'adjustment', $3, $4, 'bench', $1, $5)`,
      [newId("cle"), orgId, amount, before + amount, note],
    );
    await client.query("UPDATE credit_balances SET balance = balance + $2, updated_at = now() WHERE org_id = $1", [orgId, amount]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

export function apiClient(baseUrl: string, accessToken: string) {
  return async (method: string, path: string, body: unknown, expected: number): Promise<unknown> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${accessToken}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The figures as `npm run bench` prints them, one `name value` a line. */
export function formatQueryChatFigures(figures: QueryChatFigures): string {
  const round = (value: number) => Math.round(value * 100) / 100;
  const run = (prefix: string, f: ChatRunFigures) => [
    `${prefix}_requests ${f.requests}`,
    `${prefix}_non_200 ${f.non200}`,
    `${prefix}_model_calls_per_request ${round(f.modelCallsPerRequest)}`,
    `${prefix}_requests_per_s ${round(f.perSecond)}`,
    `${prefix}_latency_p50_ms ${round(f.p50Ms)}`,
    `${prefix}_latency_p99_ms ${round(f.p99Ms)}`,
    `${prefix}_model_p50_ms ${round(f.modelP50Ms)}`,
    `${prefix}_overhead_p50_ms ${round(f.overheadP50Ms)}`,
    ...(f.overheadP99Ms === null ? [] : [`${prefix}_overhead_p99_ms ${round(f.overheadP99Ms)}`]),
  ];
  return [
    ...run("query_chat_1_client", figures.oneClient),
    ...run(`query_chat_${figures.clients}_clients`, figures.manyClients),
    `query_chat_db_connect_and_run_p50_ms ${round(figures.dbConnectAndRunP50Ms)}`,
    `query_chat_db_run_p50_ms ${round(figures.dbRunP50Ms)}`,
  ].join("\n");
}
