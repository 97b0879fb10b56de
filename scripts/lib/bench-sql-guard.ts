import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { readGoldQueries } from "../../tests/harness/sql-data.ts";
import type { LocalStack } from "./local-stack.ts";
import { ROOT } from "./local-stack.ts";
import { freePort } from "./ports.ts";
import { startWranglerDev } from "./wrangler-dev.ts";

export interface SqlGuardFigures {
  /** Gold queries of the defog set, the statements measured. */
  statements: number;
  /** Gold statements the guard refused; stays 0 unless the guard broke. */
  refused: number;
  /** One warm isolate checking the gold corpus back to back (parse + rules), HTTP amortised over big batches. */
  statementsPerSecond: number;
  /**
   * Time to check one statement, across the gold statements: each is sent alone, repeated
   * STATEMENT_REPEATS times in one request, and the request's time less the p50 of an empty
   * request is divided by the repeats.
   */
  statementP50Ms: number;
  statementP99Ms: number;
  /** p50 of an empty request to the guard-only worker: the HTTP floor taken off the figures above. */
  emptyRequestP50Ms: number;
  /** A fresh isolate's first statement, parser instantiation included (less the HTTP floor). */
  firstCheckMs: number;
  /** `POST /v1/sql/check` through the whole app: auth, rate limit, validation, guard. */
  apiRequestsPerSecond: number;
  apiP50Ms: number;
  apiP99Ms: number;
  apiNon200: number;
}

const BENCH_DIR = path.join(ROOT, ".data/bench-sql-guard");
const WARM_UP_PASSES = 10;
// Throughput: BATCHES requests, each checking the corpus CORPUS_REPEATS times over.
const BATCHES = 3;
const CORPUS_REPEATS = 10;
const STATEMENT_REPEATS = 200;
const EMPTY_REQUESTS = 200;

/**
 * The guard's speed in workerd, where it runs in production. workerd's clocks stand still while
 * a request computes (a Spectre mitigation), so the guard cannot time itself: everything is timed
 * from here. A worker with nothing but the guard behind it, started with `wrangler dev`, answers
 * batches: the corpus many times over (throughput), and each statement repeated (its own cost, with the
 * HTTP floor taken off and spread over the repeats). The app's own `POST /v1/sql/check` gives the
 * figure a client sees, authentication and all.
 */
export async function measureSqlGuard(options: {
  stack: LocalStack;
  baseUrl: string;
  accessToken: string;
  /** Requests to `POST /v1/sql/check`; one user's API limit is 600 a minute. */
  apiRequests?: number;
  connections: number;
}): Promise<SqlGuardFigures> {
  const apiRequests = options.apiRequests ?? Number(process.env.BENCH_SQL_CHECK_REQUESTS ?? 400);
  const statements = (await readGoldQueries()).map((query) => query.sql);
  const port = await freePort();
  const guardUrl = `http://127.0.0.1:${port}`;
  const worker = startWranglerDev({
    port,
    stack: options.stack,
    persistTo: ".data/wrangler-bench-sql-guard",
    quiet: true,
    extraArgs: ["--config", await writeGuardWorker()],
  });
  try {
    const check = async (batch: string[]) => {
      const response = await fetch(guardUrl, { method: "POST", body: JSON.stringify(batch) });
      if (response.status !== 200) throw new Error(`guard worker: ${response.status} ${await response.text()}`);
      return (await response.json()) as { refused: number };
    };
    await waitFor(() => check([]), 60_000);
    // The isolate's first statement pays for instantiating the parser's wasm.
    const firstStarted = performance.now();
    await check(statements.slice(0, 1));
    const firstCheckMs = performance.now() - firstStarted;
    // V8 optimises the parser glue and the walker after a few thousand calls: measure warm.
    let refused = 0;
    for (let i = 0; i < WARM_UP_PASSES; i++) ({ refused } = await check(statements));

    const corpusBatch = Array.from({ length: CORPUS_REPEATS }, () => statements).flat();
    const started = performance.now();
    for (let i = 0; i < BATCHES; i++) await check(corpusBatch);
    const statementsPerSecond = (BATCHES * corpusBatch.length) / ((performance.now() - started) / 1000);

    const floor = percentile(
      await timeEach(
        Array.from({ length: EMPTY_REQUESTS }, () => [] as string[]),
        check,
      ),
      50,
    );
    const repeated = await timeEach(
      statements.map((sql) => Array.from({ length: STATEMENT_REPEATS }, () => sql)),
      check,
    );
    const perStatement = repeated.map((ms) => Math.max(0, ms - floor) / STATEMENT_REPEATS);

    const api = await measureApi({ ...options, apiRequests }, statements);
    return {
      statements: statements.length,
      refused,
      statementsPerSecond,
      statementP50Ms: percentile(perStatement, 50),
      statementP99Ms: percentile(perStatement, 99),
      emptyRequestP50Ms: floor,
      firstCheckMs: Math.max(0, firstCheckMs - floor),
      ...api,
    };
  } finally {
    worker.stop();
  }
}

/** The guard-only worker: POST a JSON array of statements, get back how many were refused. */
async function writeGuardWorker(): Promise<string> {
  await mkdir(BENCH_DIR, { recursive: true });
  const guard = path.join(ROOT, "src/modules/data/sql-guard/check.ts");
  await writeFile(
    path.join(BENCH_DIR, "worker.ts"),
    `import { checkSql } from ${JSON.stringify(guard)};
export default {
  async fetch(request: Request): Promise<Response> {
    const statements = (await request.json()) as string[];
    let refused = 0;
    for (const sql of statements) if (!(await checkSql(sql)).allowed) refused++;
    return Response.json({ refused });
  },
};
`,
  );
  // Same runtime as the app: its compatibility date and flags.
  const appConfig = await readFile(path.join(ROOT, "wrangler.toml"), "utf8");
  const compatibility = appConfig.split("\n").filter((line) => /^compatibility_(date|flags)\s*=/.test(line));
  const config = path.join(BENCH_DIR, "wrangler.toml");
  await writeFile(config, ['name = "bench-sql-guard"', 'main = "worker.ts"', ...compatibility, ""].join("\n"));
  return config;
}

async function measureApi(
  options: { baseUrl: string; accessToken: string; apiRequests: number; connections: number },
  statements: string[],
): Promise<Pick<SqlGuardFigures, "apiRequestsPerSecond" | "apiP50Ms" | "apiP99Ms" | "apiNon200">> {
  const timings: number[] = [];
  let next = 0;
  let non200 = 0;
  const client = async () => {
    while (next < options.apiRequests) {
      const sql = statements[next++ % statements.length];
      const started = performance.now();
      const response = await fetch(`${options.baseUrl}/v1/sql/check`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${options.accessToken}` },
        body: JSON.stringify({ sql }),
      });
      await response.arrayBuffer();
      timings.push(performance.now() - started);
      if (response.status !== 200) non200++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.connections }, client));
  const elapsedSeconds = (performance.now() - started) / 1000;
  return {
    apiRequestsPerSecond: timings.length / elapsedSeconds,
    apiP50Ms: percentile(timings, 50),
    apiP99Ms: percentile(timings, 99),
    apiNon200: non200,
  };
}

/** Sequential requests, each timed from here. */
async function timeEach<T>(inputs: T[], send: (input: T) => Promise<unknown>): Promise<number[]> {
  const timings: number[] = [];
  for (const input of inputs) {
    const started = performance.now();
    await send(input);
    timings.push(performance.now() - started);
  }
  return timings;
}

async function waitFor(attempt: () => Promise<unknown>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The figures as `npm run bench` prints them, one `name value` a line. */
export function formatSqlGuardFigures(figures: SqlGuardFigures): string {
  const round = (value: number) => Math.round(value * 100) / 100;
  return [
    `sql_guard_statements ${figures.statements}`,
    `sql_guard_gold_refused ${figures.refused}`,
    `sql_guard_statements_per_s ${Math.round(figures.statementsPerSecond)}`,
    `sql_guard_statement_p50_ms ${round(figures.statementP50Ms)}`,
    `sql_guard_statement_p99_ms ${round(figures.statementP99Ms)}`,
    `sql_guard_empty_request_p50_ms ${round(figures.emptyRequestP50Ms)}`,
    `sql_guard_first_check_ms ${round(figures.firstCheckMs)}`,
    `sql_check_requests_per_s ${Math.round(figures.apiRequestsPerSecond)}`,
    `sql_check_latency_p50_ms ${round(figures.apiP50Ms)}`,
    `sql_check_latency_p99_ms ${round(figures.apiP99Ms)}`,
    `sql_check_non_200 ${figures.apiNon200}`,
  ].join("\n");
}
