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
 * Beside it the ceiling (see `ceilingInserter`), in rounds that alternate a tenth of the batches
 * through the Worker with the same tenth straight into Postgres: on a machine whose other load
 * changes during the run, both sides see the same changes. Then the same batches through the
 * Worker again, where every event is a duplicate.
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
  const batches = Array.from({ length: options.batches }, (_, batch) => batchEvents(run, batch, options.eventsPerBatch, agentIds));
  const bodies = batches.map((events) => JSON.stringify({ events }));
  const rowBatches = batches.map((events) => JSON.stringify(events.map(storedShape)));

  const ceiling = await ceilingInserter(databaseUrl, shop.orgId, options.clients);
  const first = emptyTally();
  const direct = emptyTally();
  try {
    const roundSize = Math.ceil(bodies.length / ROUNDS);
    for (let start = 0; start < bodies.length; start += roundSize) {
      addTally(first, await postAll(baseUrl, shop.keys, bodies.slice(start, start + roundSize)));
      addTally(direct, await ceiling.insertAll(rowBatches.slice(start, start + roundSize)));
    }
  } finally {
    await ceiling.close();
  }
  const replay = await postAll(baseUrl, shop.keys, bodies);
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
    ceiling: { eventsPerSecond: direct.accepted / direct.seconds, batchP50Ms: percentile(direct.timings, 50), batchP99Ms: percentile(direct.timings, 99) },
  };
}

const ROUNDS = 10;
const CEILING_TABLE = "bench_ceiling_events";

/** Batches sent by one side and what came of them; a round adds to its side's tally. */
interface Tally {
  timings: number[];
  seconds: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  failed: number;
}

const emptyTally = (): Tally => ({ timings: [], seconds: 0, accepted: 0, duplicates: 0, rejected: 0, failed: 0 });

function addTally(total: Tally, round: Tally) {
  total.timings.push(...round.timings);
  total.seconds += round.seconds;
  total.accepted += round.accepted;
  total.duplicates += round.duplicates;
  total.rejected += round.rejected;
  total.failed += round.failed;
}

/**
 * The physical limit the Worker path is judged against, in the same run on the same Postgres:
 * the same batches as stored rows, inserted from Node by `clients` connections with one
 * `jsonb_to_recordset … ON CONFLICT DO NOTHING` statement each, into a scratch copy of
 * `agent_events` (its primary key and indexes, no foreign keys, no triggers) made fresh per run.
 * No validation, no lookups, no HTTP: what is left is parsing the JSON and writing the rows.
 */
async function ceilingInserter(databaseUrl: string, orgId: string, clients: number) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: clients });
  await pool.query(`DROP TABLE IF EXISTS ${CEILING_TABLE}`);
  await pool.query(`CREATE TABLE ${CEILING_TABLE} (LIKE agent_events INCLUDING DEFAULTS INCLUDING INDEXES)`);
  const insert = `INSERT INTO ${CEILING_TABLE} (org_id, id, agent_id, kind, type, quantity, amount, currency, value, success, occurred_at, metadata)
    SELECT $1, e.id, e.agent_id, e.kind, e.type, e.quantity, e.amount, e.currency, e.value, e.success, e.occurred_at, e.metadata
      FROM jsonb_to_recordset($2::jsonb)
        AS e(id text, agent_id text, kind text, type text, quantity numeric, amount bigint, currency text, value bigint,
             success boolean, occurred_at timestamptz, metadata jsonb)
     ORDER BY e.id
    ON CONFLICT (org_id, id) DO NOTHING`;
  return {
    async insertAll(rowBatches: string[]): Promise<Tally> {
      const tally = emptyTally();
      tally.seconds = await runClients(clients, rowBatches, async (rows) => {
        const started = performance.now();
        const { rowCount } = await pool.query(insert, [orgId, rows]);
        tally.timings.push(performance.now() - started);
        tally.accepted += rowCount ?? 0;
      });
      return tally;
    },
    async close() {
      await pool.query(`DROP TABLE IF EXISTS ${CEILING_TABLE}`).catch(() => {});
      await pool.end();
    },
  };
}

/** `clients` loops taking the next item until none is left; answers the seconds they took. */
async function runClients<T>(clients: number, items: T[], send: (item: T, client: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (next < items.length) await send(items[next++] as T, client);
    }),
  );
  return (performance.now() - started) / 1000;
}

type BenchEvent = ReturnType<typeof batchEvents>[number];

/** An event as the service sends it to Postgres: only its kind's columns (the rest read as null), quantity 1 unless given. */
function storedShape(event: BenchEvent) {
  return { quantity: "1", ...event };
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

async function postAll(baseUrl: string, keys: string[], bodies: string[]): Promise<Tally> {
  const tally = emptyTally();
  let firstFailure: string | undefined;
  tally.seconds = await runClients(keys.length, bodies, async (body, client) => {
    const post = () =>
      fetch(`${baseUrl}/v1/events`, { method: "POST", headers: { Authorization: `Bearer ${keys[client]}`, "Content-Type": "application/json" }, body });
    let started = performance.now();
    // A kept-alive connection the server closed as the batch went out fails before any answer;
    // event ids make a batch safe to send again, as a real client would, timed afresh.
    const response = await post().catch(() => {
      started = performance.now();
      return post();
    });
    const text = await response.text();
    tally.timings.push(performance.now() - started);
    if (response.status !== 200) {
      tally.failed++;
      firstFailure ??= `${response.status} ${text.slice(0, 300)}`;
      return;
    }
    const result = JSON.parse(text) as BatchResult;
    tally.accepted += result.accepted;
    tally.duplicates += result.duplicates;
    tally.rejected += result.rejected.length;
  });
  if (firstFailure) console.error(`bench events: ${tally.failed} of ${bodies.length} batches failed, first: ${firstFailure}`);
  return tally;
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
