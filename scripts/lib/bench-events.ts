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
export async function measureEventIngest(baseUrl: string, accessToken: string, options: EventIngestOptions): Promise<EventIngestFigures> {
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
  };
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
    `events_rejected ${figures.rejected}`,
    `events_failed_batches ${figures.failedBatches}`,
  ].join("\n");
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
