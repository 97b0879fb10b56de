import pg from "pg";
import { benchShop } from "./bench-bills.ts";

export interface EventIngestOptions {
  batches: number;
  eventsPerBatch: number;
  /** Concurrent clients, each with its own API key and one batch in flight. */
  clients: number;
  /** Agents the events are spread over. */
  agents: number;
}

export interface EventIngestFigures extends EventIngestOptions {
  accepted: number;
  duplicates: number;
  rejected: number;
  failedBatches: number;
  seconds: number;
  eventsPerSecond: number;
  batchP50Ms: number;
  batchP99Ms: number;
  /** The same batches posted again: every event a duplicate, so no row is written. */
  replayEventsPerSecond: number;
  replayDuplicates: number;
  /** The same rows inserted straight from Node into a copy of the table: what the machine can do. */
  ceiling: CeilingFigures;
}

export interface CeilingFigures {
  eventsPerSecond: number;
  batchP50Ms: number;
  batchP99Ms: number;
}

interface BatchResult {
  accepted: number;
  duplicates: number;
  rejected: unknown[];
}

/**
 * `POST /v1/events` over HTTP against wrangler dev and the local Postgres: `batches` batches of
 * `eventsPerBatch` mixed events (activities, costs, outcomes over `agents` agents), sent by
 * `clients` clients with one batch in flight each. The API rate limit (600 a minute) counts per
 * key, so each client has its own. Bodies are serialised before the clock starts, so the figures
 * are the server's: auth, per-event validation, the agents and closed-periods lookup, the insert.
 * Then the same batches again, where every event is a duplicate.
 */
export async function measureEventIngest(baseUrl: string, databaseUrl: string, accessToken: string, options: EventIngestOptions): Promise<EventIngestFigures> {
  const shop = await benchShop(baseUrl, accessToken, options.clients);
  const owner = shop.keys[0] as string;
  const agentIds: string[] = [];
  for (let i = 0; i < options.agents; i++) {
    const response = await fetch(`${baseUrl}/v1/agents`, {
      method: "POST",
      headers: { Authorization: `Bearer ${owner}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: `Bench agent ${i}` }),
    });
    if (response.status !== 201) throw new Error(`bench agent: ${response.status} ${await response.text()}`);
    agentIds.push(((await response.json()) as { id: string }).id);
  }
  // A prefix per run keeps ids new if the bench runs twice on one database.
  const run = Date.now().toString(36);
  const bodies = Array.from({ length: options.batches }, (_, batch) => JSON.stringify({ events: batchEvents(run, batch, options.eventsPerBatch, agentIds) }));

  const first = await postAll(baseUrl, shop.keys, bodies);
  const replay = await postAll(baseUrl, shop.keys, bodies);
  const ceiling = await measureCeiling(databaseUrl, shop.orgId, bodies, options.clients);
  return {
    ...options,
    accepted: first.accepted,
    duplicates: first.duplicates,
    rejected: first.rejected + replay.rejected,
    failedBatches: first.failed + replay.failed,
    seconds: first.seconds,
    eventsPerSecond: first.accepted / first.seconds,
    batchP50Ms: percentile(first.timings, 50),
    batchP99Ms: percentile(first.timings, 99),
    replayEventsPerSecond: replay.duplicates / replay.seconds,
    replayDuplicates: replay.duplicates,
    ceiling,
  };
}

const CEILING_TABLE = "bench_ceiling_events";

/**
 * The physical limit the Worker path is judged against, in the same run on the same Postgres:
 * the same batches as stored rows, inserted from Node by `clients` connections with one
 * `jsonb_to_recordset … ON CONFLICT DO NOTHING` statement each, into a scratch copy of
 * `agent_events` (its primary key and indexes, no foreign keys, no triggers) made fresh per run.
 * No validation, no lookups, no HTTP: what is left is parsing the JSON and writing the rows.
 */
async function measureCeiling(databaseUrl: string, orgId: string, bodies: string[], clients: number): Promise<CeilingFigures> {
  const rowBatches = bodies.map((body) => JSON.stringify((JSON.parse(body) as { events: BenchEvent[] }).events.map(storedShape)));
  const pool = new pg.Pool({ connectionString: databaseUrl, max: clients });
  try {
    await pool.query(`DROP TABLE IF EXISTS ${CEILING_TABLE}`);
    await pool.query(`CREATE TABLE ${CEILING_TABLE} (LIKE agent_events INCLUDING DEFAULTS INCLUDING INDEXES)`);
    const insert = `INSERT INTO ${CEILING_TABLE} (org_id, id, agent_id, kind, type, quantity, amount, currency, value, success, occurred_at, metadata)
      SELECT $1, e.id, e.agent_id, e.kind, e.type, e.quantity, e.amount, e.currency, e.value, e.success, e.occurred_at, e.metadata
        FROM jsonb_to_recordset($2::jsonb)
          AS e(id text, agent_id text, kind text, type text, quantity numeric, amount bigint, currency text, value bigint,
               success boolean, occurred_at timestamptz, metadata jsonb)
       ORDER BY e.id
      ON CONFLICT (org_id, id) DO NOTHING`;
    const timings: number[] = [];
    let inserted = 0;
    let next = 0;
    const client = async () => {
      while (next < rowBatches.length) {
        const rows = rowBatches[next++] as string;
        const started = performance.now();
        // Awaited before adding: `inserted += await …` would add to a stale total read before the wait.
        const { rowCount } = await pool.query(insert, [orgId, rows]);
        inserted += rowCount ?? 0;
        timings.push(performance.now() - started);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: clients }, client));
    const seconds = (performance.now() - started) / 1000;
    return { eventsPerSecond: inserted / seconds, batchP50Ms: percentile(timings, 50), batchP99Ms: percentile(timings, 99) };
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${CEILING_TABLE}`).catch(() => {});
    await pool.end();
  }
}

type BenchEvent = ReturnType<typeof batchEvents>[number];

/** An event as the service stores it: every kind's columns, null where the kind has none. */
function storedShape(event: BenchEvent) {
  return { quantity: "1", amount: null, currency: null, value: null, success: null, metadata: null, ...event };
}

/** One batch: two activities for each cost and outcome, spread over the agents and the last day. */
function batchEvents(run: string, batch: number, size: number, agentIds: string[]) {
  const now = Date.now();
  return Array.from({ length: size }, (_, i) => {
    const n = batch * size + i;
    const base = {
      id: `bench-${run}-${n}`,
      agent_id: agentIds[n % agentIds.length],
      occurred_at: new Date(now - 60_000 - (n % 86_400) * 1000).toISOString(),
    };
    switch (n % 4) {
      case 0:
        return { ...base, kind: "cost", type: "llm_tokens", amount: 1 + (n % 50), currency: "USD" };
      case 1:
        return { ...base, kind: "outcome", type: "ticket_resolved", success: n % 3 !== 0, value: 1000 + (n % 9000), metadata: { ticket: `T-${n}` } };
      default:
        return { ...base, kind: "activity", type: n % 8 < 4 ? "email_sent" : "web_search", quantity: n % 5 === 0 ? "2.5" : "1" };
    }
  });
}

async function postAll(baseUrl: string, keys: string[], bodies: string[]) {
  const timings: number[] = [];
  let next = 0;
  let accepted = 0;
  let duplicates = 0;
  let rejected = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const client = async (key: string) => {
    while (next < bodies.length) {
      const body = bodies[next++] as string;
      const started = performance.now();
      const response = await fetch(`${baseUrl}/v1/events`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body,
      });
      const text = await response.text();
      timings.push(performance.now() - started);
      if (response.status !== 200) {
        failed++;
        firstFailure ??= `${response.status} ${text.slice(0, 300)}`;
        continue;
      }
      const result = JSON.parse(text) as BatchResult;
      accepted += result.accepted;
      duplicates += result.duplicates;
      rejected += result.rejected.length;
    }
  };
  const started = performance.now();
  await Promise.all(keys.map(client));
  const seconds = (performance.now() - started) / 1000;
  if (firstFailure) console.error(`bench events: ${failed} of ${bodies.length} batches failed, first: ${firstFailure}`);
  return { timings, accepted, duplicates, rejected, failed, seconds };
}

export function formatEventIngestFigures(figures: EventIngestFigures): string {
  const round = (value: number) => Math.round(value * 100) / 100;
  return [
    `events_batches ${figures.batches}`,
    `events_per_batch ${figures.eventsPerBatch}`,
    `events_clients ${figures.clients}`,
    `events_accepted ${figures.accepted}`,
    `events_duplicates ${figures.duplicates}`,
    `events_ingest_per_s ${Math.round(figures.eventsPerSecond)}`,
    `events_batch_latency_p50_ms ${round(figures.batchP50Ms)}`,
    `events_batch_latency_p99_ms ${round(figures.batchP99Ms)}`,
    `events_replay_duplicates ${figures.replayDuplicates}`,
    `events_replay_per_s ${Math.round(figures.replayEventsPerSecond)}`,
    `ceiling_events_per_s ${Math.round(figures.ceiling.eventsPerSecond)}`,
    `ceiling_batch_latency_p50_ms ${round(figures.ceiling.batchP50Ms)}`,
    `ceiling_batch_latency_p99_ms ${round(figures.ceiling.batchP99Ms)}`,
    `ratio ${round(figures.eventsPerSecond / figures.ceiling.eventsPerSecond)}`,
    `events_rejected ${figures.rejected}`,
    `events_failed_batches ${figures.failedBatches}`,
  ].join("\n");
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
