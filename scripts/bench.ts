/**
 * `npm run bench`: figures for the local stack, one per line. Bounded load on 127.0.0.1 only.
 * - time from start (Postgres + migrations + wrangler dev) to the first 200 of /healthz;
 * - requests/s and p50/p99 latency of each target route for a fixed number of seconds, or for a
 *   fixed number of requests where a rate limit would otherwise turn the run into a 429 benchmark;
 * - sign-in latency (sequential requests timed here) and the cost of authentication: the p50 of
 *   `GET /v1/auth/me` with a bearer token minus the p50 of `/healthz`;
 * - messages per second through the outbound queue, its consumer and a fake provider, and the
 *   p50/p99 from queued to sent;
 * - credit debits per second straight against Postgres (the debit statement, N clients): all on
 *   one organisation's balance row (the hot-row case), and spread over 100 organisations;
 * - create-and-issue of a 10-line bill over HTTP: bills/s and p50/p99, one client and N clients;
 * - `GET /v1/dashboard/summary` for a year, p50/p99 with one client and N, in an organisation seeded
 *   with 1,000,000 bills through SQL and its daily roll-up rebuilt, beside the summary's raw-row
 *   statement from before the roll-ups timed on Postgres (scripts/lib/bench-bills.ts);
 * - the SQL guard in workerd: statements/s and per-statement p50/p99 over the defog gold corpus, and
 *   `POST /v1/sql/check` requests/s and p50/p99 (scripts/lib/bench-sql-guard.ts);
 * - `POST /v1/query/chat` against Chinook with a fake model in this process: p50/p99, requests/s,
 *   and the overhead once the model's time is taken off, one client and N (scripts/lib/bench-query.ts);
 * - `sales_chat`: `POST /v1/chatbot/chat` less its three model calls (planner, reply, memory; the fake
 *   OpenAI here), one conversation turn after turn and N clients starting conversations (conversations/s),
 *   and the stream's time to its first content delta less the planner's time (scripts/lib/bench-sales-chat.ts);
 * - `sales_channels`: a connected Telegram bot's webhook, BENCH_CHANNEL_UPDATES (200) messages over
 *   BENCH_CHANNEL_CHATS (20) chats from BENCH_CHANNEL_CLIENTS (10) at once: acknowledgement p50/p99
 *   and acks/s, then webhook-to-reply p50/p99 at the fake Bot API (scripts/lib/bench-sales-channels.ts);
 * - `files`: `POST /v1/files` throughput (MB/s, p50) for 1 MB and 20 MB files through the Worker to R2,
 *   and one campaign's fan-out to BENCH_CAMPAIGN_RECIPIENTS (1000) customers into the outbound queue
 *   in messages/s (scripts/lib/bench-files.ts);
 * - `POST /v1/events` over HTTP: events/s and batch p50/p99 for batches of 1,000 mixed events from N
 *   clients, then the same batches replayed as duplicates; beside them the ceiling: the same rows inserted
 *   from Node into a scratch copy of agent_events (one statement a batch, same clients), and the ratio
 *   (scripts/lib/bench-events.ts). Its Worker is the production bundle in Miniflare, without wrangler dev's
 *   inspector and proxy worker (BENCH_EVENTS_INSPECTOR=1: through wrangler dev);
 * - `POST /v1/billing-models/{id}/calculate` p50/p99 for one agent and one month holding 10,000,000
 *   events seeded through SQL (their daily roll-up kept by its trigger), beside the raw aggregate
 *   from before the roll-ups timed on Postgres (scripts/lib/bench-calculate.ts);
 * - `knowledge`: SciFact through the knowledge-base pipeline (ingestion chunks/s, lexical and hybrid
 *   nDCG@10 by ../shared/data/ir/score.mjs), search p50/p99 at 10,000 and 50,000 chunks, bookings/s
 *   with N clients and the 31-day slots computation (scripts/lib/bench-knowledge.ts);
 * - `speech`: what the Worker adds to the speech provider's time (the fake OpenAI here), paired per
 *   request: `POST /v1/stt` overhead p50/p99, `POST /v1/tts` time to first byte added while streaming,
 *   `POST /v1/query/audio-chat` against Chinook less its four provider calls (scripts/lib/bench-speech.ts);
 * - `calls`: phone calls through the Worker's CallSession with the Realtime and Twilio fakes in this
 *   process: per-frame added latency caller→model and model→caller p50/p99 over a call of
 *   BENCH_CALL_SECONDS (30), `clear` delay after speech_started, truncate error against the audio
 *   heard, then BENCH_CONCURRENT_CALLS (20) at once: workerd CPU per call-second, frames lost
 *   (scripts/lib/bench-calls.ts);
 * - the gzip size of the bundle from `wrangler deploy --dry-run`;
 * - `suite`: the whole test suite as `npm test` runs it: wall time, files, tests, vitest's import
 *   and tests phases, the fixed cost per file (import / files), the slowest files
 *   (scripts/lib/bench-suite.ts). It runs first, before the local stack starts, so nothing else loads the machine;
 * - `startup`: CPU of the production Worker's global scope, profiled by `wrangler check startup`
 *   (scripts/lib/bench-startup.ts).
 *
 * `BENCH_ONLY=query,sql_guard` runs only those sections (suite, startup, http, signin, messaging,
 * credits, bills, dashboard, sql_guard, query, sales_chat, sales_channels, files, events, calculate, knowledge, speech, calls, bundle); the local stack's
 * start-up figures are printed whenever a section needs the stack.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import autocannon from "autocannon";
import { startFakeOpenAI } from "../tests/fakes/openai.ts";
import { FAKE_TELEGRAM_BOT_TOKEN, startFakeTelegram } from "../tests/fakes/telegram.ts";
import { benchShop, measureBillIssue, measureRawSummarySql, measureSummary, removeShop, seedBills } from "./lib/bench-bills.ts";
import { formatCalculateFigures, measureCalculate } from "./lib/bench-calculate.ts";
import { formatCallsFigures, measureCalls, startCallFakes } from "./lib/bench-calls.ts";
import { measureDebits } from "./lib/bench-credits.ts";
import { formatEventIngestFigures, measureEventIngest } from "./lib/bench-events.ts";
import { formatFilesFigures, measureFiles } from "./lib/bench-files.ts";
import { formatKnowledgeFigures, measureKnowledge } from "./lib/bench-knowledge.ts";
import { measureMessaging } from "./lib/bench-messaging.ts";
import { benchModelVars, formatQueryChatFigures, measureQueryChat } from "./lib/bench-query.ts";
import { formatSalesChannelFigures, measureSalesChannels } from "./lib/bench-sales-channels.ts";
import { formatSalesChatFigures, measureSalesChat } from "./lib/bench-sales-chat.ts";
import { formatSpeechFigures, measureSpeech } from "./lib/bench-speech.ts";
import { formatSqlGuardFigures, measureSqlGuard } from "./lib/bench-sql-guard.ts";
import { formatStartupFigures, measureStartup } from "./lib/bench-startup.ts";
import { formatSuiteFigures, measureSuite } from "./lib/bench-suite.ts";
import { ROOT, startLocalStack } from "./lib/local-stack.ts";
import { freePort } from "./lib/ports.ts";
import { OFFLINE_ENV, startWranglerDev } from "./lib/wrangler-dev.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
// Per-user API limit in wrangler.toml is 600 a minute: a bounded run stays under it, so the
// figures measure authentication, not the limiter's 429s (still counted apart if any appear).
const AUTH_ME_REQUESTS = Number(process.env.BENCH_AUTH_ME_REQUESTS ?? 500);
// Per-IP limit on /v1/auth/* is 30 a minute: one sign-up plus these sign-ins stay under it even
// if the client address below were ignored.
const SIGN_IN_REQUESTS = 20;
// Messages queued for the messaging figures (one user: stays under its 600/min API limit).
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200);
// Concurrent Postgres connections issuing credit debits.
const DEBIT_CLIENTS = Number(process.env.BENCH_DEBIT_CLIENTS ?? 16);
// Bills created and issued by the N concurrent clients (each with its own API key, so each stays
// under the 600/min limit), and by one client alone for the uncontended latency.
const BILLS = Number(process.env.BENCH_BILLS ?? 300);
const BILLS_ONE_CLIENT = Number(process.env.BENCH_BILLS_ONE_CLIENT ?? 30);
// Bills seeded for the dashboard figure, and summary requests (one client, then N clients).
const SEEDED_BILLS = Number(process.env.BENCH_SEEDED_BILLS ?? 1_000_000);
const SUMMARY_REQUESTS = Number(process.env.BENCH_SUMMARY_REQUESTS ?? 100);
// Event batches of 1,000 for the ingestion figures, and the clients sending them (one API key each).
const EVENT_BATCHES = Number(process.env.BENCH_EVENT_BATCHES ?? 100);
const EVENT_CLIENTS = Number(process.env.BENCH_EVENT_CLIENTS ?? 4);
// Events seeded for one agent for the calculate figure, and calculate requests timed.
const CALCULATE_EVENTS = Number(process.env.BENCH_CALCULATE_EVENTS ?? 10_000_000);
const CALCULATE_REQUESTS = Number(process.env.BENCH_CALCULATE_REQUESTS ?? 30);
const BENCH_PASSWORD = "bench-password-42-horse";
// Customers one bench campaign messages (files section).
const CAMPAIGN_RECIPIENTS = Number(process.env.BENCH_CAMPAIGN_RECIPIENTS ?? 1000);
const ONLY = process.env.BENCH_ONLY?.split(",").map((name) => name.trim());
const runs = (section: string) => !ONLY || ONLY.includes(section);
// Declared before the top-level awaits below use them.
let benchClient = 0;

// Sections that bring their own processes run before the local stack, on an otherwise idle machine.
if (runs("suite")) console.log(formatSuiteFigures(await measureSuite()));
if (runs("startup")) console.log(formatStartupFigures(measureStartup()));
const OWN_PROCESS_SECTIONS = ["suite", "startup"];
if (ONLY?.every((section) => OWN_PROCESS_SECTIONS.includes(section))) process.exit(0);

const started = performance.now();
const stack = await startLocalStack();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
// Messages leave through a fake Telegram Bot API on loopback: the queue and consumer are real.
const telegram = await startFakeTelegram(FAKE_TELEGRAM_BOT_TOKEN);
// The model writing SQL is a fake OpenAI on loopback too, so its time can be measured and taken off.
const openai = await startFakeOpenAI();
// Phone calls' model and carrier are fakes in this process too, sharing the bench's clock.
const callFakes = runs("calls") ? await startCallFakes(base) : undefined;
const wrangler = startWranglerDev({
  port,
  stack,
  persistTo: ".data/wrangler-bench",
  vars: {
    LOG_LEVEL: "error",
    TELEGRAM_BOT_TOKEN: FAKE_TELEGRAM_BOT_TOKEN,
    TELEGRAM_BASE_URL: telegram.url,
    // Where the fake Telegram delivers a connected bot's updates (sales_channels).
    PUBLIC_BASE_URL: base,
    ...benchModelVars(openai.url),
    ...callFakes?.vars,
  },
  quiet: true,
});
const wranglerStarted = performance.now();

try {
  await waitFor200(`${base}/healthz`, 60_000);
  const ready = performance.now();
  console.log(`start_to_first_200_ms ${Math.round(ready - started)}`);
  console.log(`wrangler_dev_to_first_200_ms ${Math.round(ready - wranglerStarted)}`);

  if (runs("http")) {
    const p50 = new Map<string, number>();
    for (const target of await targets(base)) {
      const result = await autocannon({
        url: `${base}${target.path}`,
        connections: CONNECTIONS,
        ...(target.amount ? { amount: target.amount } : { duration: SECONDS }),
        headers: target.headers,
      });
      const name = target.name;
      const tooMany = result.statusCodeStats?.["429"]?.count ?? 0;
      // A bounded run may last under a second, where autocannon's per-second average says little.
      const elapsedSeconds = (result.finish.getTime() - result.start.getTime()) / 1000;
      const perSecond = target.amount ? result.requests.total / elapsedSeconds : result.requests.average;
      p50.set(name, result.latency.p50);
      console.log(`${name}_requests_per_s ${Math.round(perSecond)}`);
      console.log(`${name}_latency_p50_ms ${result.latency.p50}`);
      console.log(`${name}_latency_p99_ms ${result.latency.p99}`);
      console.log(`${name}_non_2xx ${result.non2xx - tooMany + result.errors}`);
      console.log(`${name}_429 ${tooMany}`);
    }
    const authMe = p50.get("auth_me");
    const healthz = p50.get("healthz");
    if (authMe !== undefined && healthz !== undefined) console.log(`auth_overhead_p50_ms ${round(authMe - healthz)}`);
  }

  if (runs("signin")) {
    const signIn = await measureSignIn(base);
    console.log(`signin_requests ${signIn.count}`);
    console.log(`signin_latency_p50_ms ${round(signIn.p50)}`);
    console.log(`signin_latency_p99_ms ${round(signIn.p99)}`);
    console.log(`signin_non_2xx ${signIn.failures}`);
  }

  if (runs("messaging")) {
    const messaging = await measureMessaging(base, (await signUpBenchUser(base)).accessToken, stack.databaseUrl, MESSAGES);
    console.log(`messages_sent ${messaging.sent}`);
    console.log(`messages_failed ${messaging.failed}`);
    console.log(`messages_per_s ${round(messaging.messagesPerSecond)}`);
    console.log(`message_send_to_sent_p50_ms ${round(messaging.sendToSentP50Ms)}`);
    console.log(`message_send_to_sent_p99_ms ${round(messaging.sendToSentP99Ms)}`);
  }

  if (runs("credits")) {
    const oneOrg = await measureDebits(stack.databaseUrl, { orgs: 1, clients: DEBIT_CLIENTS, seconds: SECONDS });
    console.log(`debits_per_s_one_org ${Math.round(oneOrg.debitsPerSecond)}`);
    const manyOrgs = await measureDebits(stack.databaseUrl, { orgs: 100, clients: DEBIT_CLIENTS, seconds: SECONDS });
    console.log(`debits_per_s_100_orgs ${Math.round(manyOrgs.debitsPerSecond)}`);
    console.log(`debits_refused ${oneOrg.refused + manyOrgs.refused}`);
  }

  if (runs("bills")) {
    const till = await benchShop(base, (await signUpBenchUser(base)).accessToken, CONNECTIONS);
    const oneTill = await measureBillIssue(base, { ...till, keys: till.keys.slice(0, 1) }, BILLS_ONE_CLIENT);
    console.log(`bill_issue_10_lines_1_client_per_s ${round(oneTill.perSecond)}`);
    console.log(`bill_issue_10_lines_1_client_latency_p50_ms ${round(oneTill.p50Ms)}`);
    console.log(`bill_issue_10_lines_1_client_latency_p99_ms ${round(oneTill.p99Ms)}`);
    const tills = await measureBillIssue(base, till, BILLS);
    console.log(`bill_issue_10_lines_per_s ${round(tills.perSecond)}`);
    console.log(`bill_issue_10_lines_latency_p50_ms ${round(tills.p50Ms)}`);
    console.log(`bill_issue_10_lines_latency_p99_ms ${round(tills.p99Ms)}`);
    console.log(`bill_issue_non_2xx ${oneTill.failures + tills.failures}`);
  }

  if (runs("dashboard")) {
    const shop = await benchShop(base, (await signUpBenchUser(base)).accessToken, CONNECTIONS);
    const seeded = await seedBills(stack.databaseUrl, shop.orgId, SEEDED_BILLS);
    console.log(`dashboard_seeded_bills ${seeded.bills}`);
    console.log(`dashboard_seed_seconds ${round(seeded.seconds)}`);
    console.log(`dashboard_rollup_rebuild_seconds ${round(seeded.rollupSeconds)}`);
    const rawSql = await measureRawSummarySql(stack.databaseUrl, shop.orgId, 10);
    console.log(`dashboard_summary_1y_raw_sql_p50_ms ${round(rawSql.p50Ms)}`);
    console.log(`dashboard_summary_1y_raw_sql_p99_ms ${round(rawSql.p99Ms)}`);
    const summaryOne = await measureSummary(base, shop.keys.slice(0, 1), SUMMARY_REQUESTS);
    console.log(`dashboard_summary_1y_latency_p50_ms ${round(summaryOne.p50Ms)}`);
    console.log(`dashboard_summary_1y_latency_p99_ms ${round(summaryOne.p99Ms)}`);
    const summaryMany = await measureSummary(base, shop.keys, SUMMARY_REQUESTS * 2);
    console.log(`dashboard_summary_1y_${CONNECTIONS}_clients_per_s ${round(summaryMany.perSecond)}`);
    console.log(`dashboard_summary_1y_${CONNECTIONS}_clients_latency_p50_ms ${round(summaryMany.p50Ms)}`);
    console.log(`dashboard_summary_1y_${CONNECTIONS}_clients_latency_p99_ms ${round(summaryMany.p99Ms)}`);
    console.log(`dashboard_summary_non_2xx ${summaryOne.failures + summaryMany.failures}`);
    await removeShop(stack.databaseUrl, shop.orgId);
  }

  if (runs("sql_guard")) {
    console.log(
      formatSqlGuardFigures(await measureSqlGuard({ stack, baseUrl: base, accessToken: (await signUpBenchUser(base)).accessToken, connections: CONNECTIONS })),
    );
  }

  if (runs("query")) {
    const accessToken = (await signUpBenchUser(base)).accessToken;
    console.log(formatQueryChatFigures(await measureQueryChat({ stack, baseUrl: base, accessToken, fakeOpenAiUrl: openai.url })));
  }

  if (runs("sales_chat")) {
    const accessToken = (await signUpBenchUser(base)).accessToken;
    console.log(formatSalesChatFigures(await measureSalesChat({ stack, baseUrl: base, accessToken, fakeOpenAiUrl: openai.url })));
  }

  if (runs("sales_channels")) {
    const accessToken = (await signUpBenchUser(base)).accessToken;
    console.log(formatSalesChannelFigures(await measureSalesChannels({ stack, baseUrl: base, accessToken, telegramUrl: telegram.url })));
  }

  if (runs("files")) {
    const accessToken = (await signUpBenchUser(base)).accessToken;
    console.log(formatFilesFigures(await measureFiles({ baseUrl: base, accessToken, databaseUrl: stack.databaseUrl, recipients: CAMPAIGN_RECIPIENTS })));
  }

  if (runs("events")) {
    // Judged against a ceiling, so the Worker runs without wrangler dev's inspector, whose relaying of
    // every subrequest costs more CPU than the Worker itself, and its proxy worker: the production
    // bundle in Miniflare (scripts/lib/worker-without-inspector.ts). BENCH_EVENTS_INSPECTOR=1
    // measures through the wrangler dev above instead.
    const withInspector = process.env.BENCH_EVENTS_INSPECTOR === "1";
    const eventsPort = withInspector ? port : await freePort();
    const eventsBase = `http://127.0.0.1:${eventsPort}`;
    const eventsWorker = withInspector
      ? undefined
      : startWranglerDev({ port: eventsPort, stack, persistTo: ".data/wrangler-bench-events", vars: { LOG_LEVEL: "error" }, quiet: true, inspector: false });
    try {
      await waitFor200(`${eventsBase}/healthz`, 60_000);
      const accessToken = (await signUpBenchUser(eventsBase)).accessToken;
      const figures = await measureEventIngest(eventsBase, stack.databaseUrl, accessToken, {
        batches: EVENT_BATCHES,
        eventsPerBatch: 1000,
        clients: EVENT_CLIENTS,
        agents: 20,
      });
      console.log(`events_worker_inspector ${withInspector ? "on" : "off"}`);
      console.log(formatEventIngestFigures(figures));
    } finally {
      eventsWorker?.stop();
    }
  }

  if (runs("calculate")) {
    const accessToken = (await signUpBenchUser(base)).accessToken;
    const figures = await measureCalculate({
      baseUrl: base,
      accessToken,
      databaseUrl: stack.databaseUrl,
      events: CALCULATE_EVENTS,
      requests: CALCULATE_REQUESTS,
    });
    console.log(formatCalculateFigures(figures));
  }

  if (runs("knowledge")) {
    const accessToken = (await signUpBenchUser(base)).accessToken;
    const figures = await measureKnowledge({
      baseUrl: base,
      accessToken,
      databaseUrl: stack.databaseUrl,
      scifactDir: path.resolve(ROOT, process.env.BENCH_SCIFACT_DIR ?? "../shared/data/ir/scifact"),
      clients: Number(process.env.BENCH_KNOWLEDGE_CLIENTS ?? 8),
      // The queue indexes a few abstracts a second locally: all 5,183 through it take over half an hour.
      scifactPipelineDocs:
        process.env.BENCH_SCIFACT_PIPELINE_DOCS === "all" ? Number.POSITIVE_INFINITY : Number(process.env.BENCH_SCIFACT_PIPELINE_DOCS ?? 250),
      filesPerUpload: 10,
      searchK: Number(process.env.BENCH_KNOWLEDGE_K ?? 100),
      latencySizes: (process.env.BENCH_KNOWLEDGE_SIZES ?? "10000,50000").split(",").map(Number),
      latencyRequests: Number(process.env.BENCH_KNOWLEDGE_SEARCHES ?? 200),
      // The Worker's defaults (src/env.ts); wrangler dev is given no other.
      embeddingModel: "text-embedding-3-large",
      dimensions: 1536,
      bookings: Number(process.env.BENCH_BOOKINGS ?? 300),
      bookingClients: Number(process.env.BENCH_BOOKING_CLIENTS ?? CONNECTIONS),
      slotsRequests: Number(process.env.BENCH_SLOTS_REQUESTS ?? 100),
    });
    console.log(formatKnowledgeFigures(figures));
  }

  if (runs("speech")) {
    const accessToken = (await signUpBenchUser(base)).accessToken;
    const figures = await measureSpeech({
      stack,
      baseUrl: base,
      accessToken,
      staff: await signUpBenchUser(base),
      fakeOpenAiUrl: openai.url,
      audioDir: path.resolve(ROOT, process.env.BENCH_AUDIO_DIR ?? "../shared/data/audio"),
      // Per route; each round is a request through the Worker and its replay straight to the fake.
      requests: Number(process.env.BENCH_SPEECH_REQUESTS ?? 100),
    });
    console.log(formatSpeechFigures(figures));
  }

  if (callFakes) {
    const figures = await measureCalls({
      baseUrl: base,
      databaseUrl: stack.databaseUrl,
      fakes: callFakes,
      accessToken: (await signUpBenchUser(base)).accessToken,
      staff: await signUpBenchUser(base),
      callSeconds: Number(process.env.BENCH_CALL_SECONDS ?? 30),
      concurrentCalls: Number(process.env.BENCH_CONCURRENT_CALLS ?? 20),
      wranglerPid: wrangler.process.pid ?? 0,
    });
    console.log(formatCallsFigures(figures));
  }

  if (runs("bundle")) {
    const dryRun = execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", ".data/bundle"], { cwd: ROOT, env: OFFLINE_ENV, encoding: "utf8" });
    const size = dryRun.match(/Total Upload:\s*([\d.]+) KiB \/ gzip:\s*([\d.]+) KiB/);
    console.log(`bundle_kib ${size?.[1] ?? "unknown"}`);
    console.log(`bundle_gzip_kib ${size?.[2] ?? "unknown"}`);
  }
} finally {
  wrangler.stop();
  await telegram.close();
  await openai.close();
  await callFakes?.close();
  await stack.stop();
}
process.exit(0);

interface Target {
  name: string;
  path: string;
  headers?: Record<string, string>;
  /** Send exactly this many requests instead of running for BENCH_SECONDS. */
  amount?: number;
}

/**
 * Routes under load: the health check (one `select 1`), and `GET /v1/auth/me` with a bearer
 * token (token verification, the session and membership lookup, the rate limiter, two queries).
 */
async function targets(baseUrl: string): Promise<Target[]> {
  const user = await signUpBenchUser(baseUrl);
  return [
    { name: "healthz", path: "/healthz" },
    { name: "auth_me", path: "/v1/auth/me", headers: { Authorization: `Bearer ${user.accessToken}` }, amount: AUTH_ME_REQUESTS },
  ];
}

/** A distinct client address per request, as Cloudflare's edge would set it. */
function clientIp(): string {
  benchClient++;
  return `198.18.${(benchClient >> 8) & 255}.${benchClient & 255}`;
}

async function signUpBenchUser(baseUrl: string): Promise<{ email: string; accessToken: string }> {
  const email = `bench.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
  const response = await fetch(`${baseUrl}/v1/auth/sign-up`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": clientIp() },
    body: JSON.stringify({ email, password: BENCH_PASSWORD, name: "Bench User" }),
  });
  if (response.status !== 201) throw new Error(`bench sign-up failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { access_token: string };
  return { email, accessToken: body.access_token };
}

/** Sequential sign-ins of a fresh user, timed here: the password hash dominates, not concurrency. */
async function measureSignIn(baseUrl: string): Promise<{ count: number; p50: number; p99: number; failures: number }> {
  const { email } = await signUpBenchUser(baseUrl);
  const timings: number[] = [];
  let failures = 0;
  for (let i = 0; i < SIGN_IN_REQUESTS; i++) {
    const started = performance.now();
    const response = await fetch(`${baseUrl}/v1/auth/sign-in`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "CF-Connecting-IP": clientIp() },
      body: JSON.stringify({ email, password: BENCH_PASSWORD }),
    });
    await response.arrayBuffer();
    timings.push(performance.now() - started);
    if (response.status !== 200) failures++;
  }
  return { count: timings.length, p50: percentile(timings, 50), p99: percentile(timings, 99), failures };
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

async function waitFor200(url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}
