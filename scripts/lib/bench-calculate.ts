import pg from "pg";
import { rawEventTotalsSql } from "../../tests/harness/raw-aggregates.ts";
import { percentile, timeStatement } from "./bench-sql.ts";

export interface CalculateFigures {
  events: number;
  seedSeconds: number;
  requests: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  /** The usage aggregate as it was before the roll-ups (every event summed), timed straight on Postgres. */
  rawSqlP50Ms: number;
  rawSqlP99Ms: number;
}

export interface CalculateBenchOptions {
  baseUrl: string;
  accessToken: string;
  databaseUrl: string;
  /** Events seeded for the one agent. */
  events: number;
  /** Calculate requests timed, one after another (after one untimed warm-up). */
  requests: number;
}

// The month the seeded events fall in, and the period asked for.
const FROM = "2026-04-01T00:00:00Z";
const TO = "2026-05-01T00:00:00Z";
const MONTH_SECONDS = 30 * 86_400;

/** A model that prices every kind of event, so the aggregate's every sum is used. */
const BENCH_MODEL = {
  base_fee: 5000,
  tax_rate_bps: 1800,
  components: [
    { type: "seat", unit_amount: 2000 },
    {
      type: "activity",
      activity_type: "message",
      free_units: 1000,
      tiers: [
        { up_to: 10_000, unit_amount: 1 },
        { up_to: 100_000, unit_amount: 0.5 },
        { up_to: null, unit_amount: 0.25 },
      ],
    },
    { type: "activity", activity_type: "call", unit_amount: 12.5 },
    { type: "outcome", outcome_type: "meeting", unit_amount: 500, percent_bps: 250 },
    { type: "cost_plus", markup_bps: 2000 },
  ],
};

/**
 * `POST /v1/billing-models/{id}/calculate` for one agent and one month holding `events` events,
 * over HTTP, timed here. The events are written straight through SQL (one INSERT over
 * generate_series), in time order as ingestion would write them: 60% activities of three types
 * with fractional quantities, 20% costs of two types, 20% outcomes of two types (70% successful),
 * a tenth of the money in another currency. The daily roll-up's statement trigger sums the whole
 * INSERT once, as it does for an ingestion batch, so the seed time includes it. Ends with ANALYZE,
 * as autovacuum would after a load this size; the organisation and everything in it are deleted
 * afterwards. Beside the endpoint, the raw aggregate `calculate` ran before the roll-ups is timed
 * on Postgres for the same agent and month.
 */
export async function measureCalculate(options: CalculateBenchOptions): Promise<CalculateFigures> {
  const userAuth = { Authorization: `Bearer ${options.accessToken}` };
  const me = (await (await fetch(`${options.baseUrl}/v1/auth/me`, { headers: userAuth })).json()) as { orgs: { id: string }[] };
  const orgId = me.orgs[0]?.id;
  if (!orgId) throw new Error("the bench user has no organisation");
  // An API key, not the access token: seeding millions of events outlasts a token's lifetime.
  const keyCreated = await fetch(`${options.baseUrl}/v1/api-keys`, {
    method: "POST",
    headers: { ...userAuth, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "bench calculate" }),
  });
  if (keyCreated.status !== 201) throw new Error(`bench api key: ${keyCreated.status} ${await keyCreated.text()}`);
  const auth = { Authorization: `Bearer ${((await keyCreated.json()) as { key: string }).key}` };
  const created = await fetch(`${options.baseUrl}/v1/billing-models`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ name: `Bench ${Date.now()}`, ...BENCH_MODEL }),
  });
  if (created.status !== 201) throw new Error(`bench billing model: ${created.status} ${await created.text()}`);
  const modelId = ((await created.json()) as { id: string }).id;

  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    const agentId = `agt_bench_${Date.now().toString(36)}`;
    const seedStarted = performance.now();
    await client.query("INSERT INTO agents (id, org_id, name, status) VALUES ($1, $2, 'Bench agent', 'active')", [agentId, orgId]);
    await client.query(
      `INSERT INTO agent_events (org_id, id, agent_id, kind, type, quantity, amount, currency, value, success, occurred_at)
       SELECT $1, $2::text || '_' || n, $2,
              k.kind,
              CASE k.kind WHEN 'activity' THEN (ARRAY['message', 'call', 'token'])[1 + n % 3]
                          WHEN 'cost' THEN (ARRAY['llm', 'phone'])[1 + n % 2]
                          ELSE (ARRAY['meeting', 'sale'])[1 + n % 2] END,
              CASE WHEN k.kind = 'activity' THEN 1 + (n % 2000) / 1000.0 ELSE 1 END,
              CASE WHEN k.kind = 'cost' THEN n % 500 END,
              CASE WHEN k.kind <> 'activity' THEN CASE WHEN n % 10 = 0 THEN 'EUR' ELSE 'USD' END END,
              CASE WHEN k.kind = 'outcome' THEN n % 10000 END,
              CASE WHEN k.kind = 'outcome' THEN n % 10 < 7 END,
              $3::timestamptz + make_interval(secs => (n - 1) * $4::float8 / $5)
         FROM generate_series(1, $5) n
        CROSS JOIN LATERAL (SELECT CASE WHEN n % 10 < 6 THEN 'activity' WHEN n % 10 < 8 THEN 'cost' ELSE 'outcome' END AS kind) k`,
      [orgId, agentId, FROM, MONTH_SECONDS, options.events],
    );
    await client.query("ANALYZE agent_events; ANALYZE agent_event_daily_totals");
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const body = JSON.stringify({ from: FROM, to: TO, agent_id: agentId });
    const send = () =>
      fetch(`${options.baseUrl}/v1/billing-models/${modelId}/calculate`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body });
    await (await send()).arrayBuffer();
    const timings: number[] = [];
    let failures = 0;
    let firstFailure: string | undefined;
    for (let i = 0; i < options.requests; i++) {
      const started = performance.now();
      const response = await send();
      const text = await response.text();
      timings.push(performance.now() - started);
      if (response.status !== 200) {
        failures++;
        firstFailure ??= `${response.status} ${text.slice(0, 300)}`;
      }
    }
    if (firstFailure) console.error(`bench: ${failures} of ${options.requests} calculate requests failed, first: ${firstFailure}`);
    const raw = await timeStatement(client, rawEventTotalsSql(orgId, FROM, TO, "USD", agentId), Math.min(options.requests, 10));
    return {
      events: options.events,
      seedSeconds,
      requests: timings.length,
      failures,
      p50Ms: percentile(timings, 50),
      p99Ms: percentile(timings, 99),
      rawSqlP50Ms: raw.p50Ms,
      rawSqlP99Ms: raw.p99Ms,
    };
  } finally {
    // Set-based, before the organisation: its cascade would otherwise reach the events through each
    // agent. Without the roll-up's delete trigger, which would sum every event to take it away
    // from rows the organisation's delete removes anyway.
    await client.query("SET session_replication_role = replica").catch(() => {});
    await client.query("DELETE FROM agent_events WHERE org_id = $1", [orgId]).catch(() => {});
    await client.query("SET session_replication_role = origin").catch(() => {});
    await client.query("DELETE FROM organizations WHERE id = $1", [orgId]).catch(() => {});
    await client.end();
  }
}

export function formatCalculateFigures(figures: CalculateFigures): string {
  return [
    `calculate_seeded_events ${figures.events}`,
    `calculate_seed_seconds ${round(figures.seedSeconds)}`,
    `calculate_1_agent_1_month_latency_p50_ms ${round(figures.p50Ms)}`,
    `calculate_1_agent_1_month_latency_p99_ms ${round(figures.p99Ms)}`,
    `calculate_1_agent_1_month_raw_sql_p50_ms ${round(figures.rawSqlP50Ms)}`,
    `calculate_1_agent_1_month_raw_sql_p99_ms ${round(figures.rawSqlP99Ms)}`,
    `calculate_non_2xx ${figures.failures}`,
  ].join("\n");
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
