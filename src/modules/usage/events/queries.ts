import { sql } from "drizzle-orm";
import type { Database } from "../../../db/client";
import type { AgentEventKind } from "../../../db/schema";

/**
 * One event to insert: every kind's columns, left out where the kind has none (the statement reads
 * a missing key as null).
 */
export interface EventRow {
  /** Position in the request, so refusals come back by index. */
  i: number;
  id: string;
  agent_id: string;
  kind: AgentEventKind;
  type: string;
  quantity: string;
  amount?: number;
  currency?: string;
  value?: number;
  success?: boolean;
  occurred_at: string;
  metadata?: Record<string, unknown>;
  /** Set when `occurred_at` is too far ahead of the server's clock: refused like a closed period. */
  future?: true;
}

/** What decides whether an agent may record an event at a given time, as the statement found it. */
export interface AgentGate {
  status: string;
  customerId: string | null;
  /** The latest period of the agent's customer with an open or paid invoice, if any. */
  closed: { start: string; end: string; endsAt: number; number: string | null; status: string } | null;
}

/** An event the statement did not store because of its agent or time. */
export interface RefusedRow {
  i: number;
  /** Its agent as found in the organisation; undefined when there is none. */
  gate: AgentGate | undefined;
  /** Its id was already stored before, or is stored now by another event of the batch. */
  duplicate: boolean;
}

export interface GatedInsert {
  /** Rows written by this statement. */
  accepted: number;
  /** Events that passed their agent and time checks: stored now, or repeats of a stored id. */
  allowed: number;
  refused: RefusedRow[];
}

interface RefusedJson {
  i: number;
  found: boolean;
  status: string | null;
  customer_id: string | null;
  period_start: string | null;
  period_end: string | null;
  number: string | null;
  invoice_status: string | null;
  duplicate: boolean;
}

/**
 * Checks and stores `rows` in one statement, one round trip whatever the batch size:
 * - `gate`: each agent's status and the latest open or paid invoice period of its customer
 *   (through the (org, customer, model, period) index). Invoices are read here, not through their
 *   module, because ingestion must stay at one statement a batch. The agents found are locked
 *   FOR KEY SHARE, as the insert's agent check would lock them (migration 0020): one being deleted
 *   meanwhile is waited for and then not found, so its events are refused here instead of failing
 *   the statement in that check;
 * - an event passes when its agent is in the organisation and not archived, it is not in the
 *   future, and it falls at or after the end of that period (periods are [start, end), so an event
 *   at the very end belongs to the next, still open, one);
 * - the first event of each id that passes is inserted, in id order so two batches that share ids
 *   lock them in the same order and cannot deadlock. `ON CONFLICT DO NOTHING` on (org_id, id)
 *   makes a replayed event, or one racing in from a concurrent batch, count once;
 * - a refused event comes back with its agent's gate, and whether its id was stored before this
 *   statement (its snapshot) or by a passing event of the same batch: a retry of an event stored
 *   before its agent was archived or its period closed still answers "duplicate".
 */
export async function insertGatedEvents(db: Database, orgId: string, rows: EventRow[]): Promise<GatedInsert> {
  const result = (await db.execute(
    sql`WITH batch AS (
          SELECT e.i, e.d AS id, e.a AS agent_id, e.k AS kind, e.t AS type, coalesce(e.q, 1) AS quantity, e.m AS amount, e.c AS currency,
                 e.v AS value, e.s AS success, e.o AS occurred_at, e.x AS metadata, e.f AS future
            FROM jsonb_to_recordset(${batchJson(rows)}::jsonb)
              AS e(i int, d text, a text, k text, t text, q numeric, m bigint, c text, v bigint, s boolean, o timestamptz, x jsonb, f boolean)
        ),
        gate AS (
          SELECT a.id, a.status, a.customer_id, c.period_start, c.period_end, c.number, c.status AS invoice_status
            FROM agents a
            LEFT JOIN LATERAL (
              SELECT i.period_start, i.period_end, i.number, i.status
                FROM invoices i
               WHERE i.org_id = a.org_id AND i.customer_id = a.customer_id AND i.status IN ('open', 'paid')
               ORDER BY i.period_end DESC
               LIMIT 1
            ) c ON true
           WHERE a.org_id = ${orgId} AND a.id IN (SELECT DISTINCT agent_id FROM batch)
           ORDER BY a.id
             FOR KEY SHARE OF a
        ),
        judged AS (
          SELECT e.*, g.id IS NOT NULL AS found, g.status, g.customer_id, g.period_start, g.period_end, g.number, g.invoice_status,
                 (g.id IS NOT NULL AND g.status <> 'archived' AND e.future IS NOT TRUE
                  AND (g.period_end IS NULL OR e.occurred_at >= g.period_end::timestamp AT TIME ZONE 'UTC')) AS allowed
            FROM batch e LEFT JOIN gate g ON g.id = e.agent_id
        ),
        stored AS (
          INSERT INTO agent_events (org_id, id, agent_id, kind, type, quantity, amount, currency, value, success, occurred_at, metadata)
          SELECT DISTINCT ON (j.id) ${orgId}, j.id, j.agent_id, j.kind, j.type, j.quantity, j.amount, j.currency, j.value, j.success, j.occurred_at, j.metadata
            FROM judged j
           WHERE j.allowed
           ORDER BY j.id, j.i
          ON CONFLICT (org_id, id) DO NOTHING
          RETURNING 1
        )
        SELECT (SELECT count(*) FROM stored)::int AS accepted,
               (SELECT count(*) FROM judged WHERE allowed)::int AS allowed,
               (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'i', j.i, 'found', j.found, 'status', j.status, 'customer_id', j.customer_id,
                         'period_start', j.period_start::text, 'period_end', j.period_end::text, 'number', j.number,
                         'invoice_status', j.invoice_status,
                         'duplicate', EXISTS (SELECT 1 FROM agent_events s WHERE s.org_id = ${orgId} AND s.id = j.id)
                                   OR EXISTS (SELECT 1 FROM judged k WHERE k.allowed AND k.id = j.id))), '[]'::jsonb)
                  FROM judged j WHERE NOT j.allowed) AS refused`,
  )) as unknown as { rows: { accepted: number; allowed: number; refused: RefusedJson[] }[] };
  const row = result.rows[0];
  if (!row) throw new Error("the gated insert answered no row");
  return {
    accepted: row.accepted,
    allowed: row.allowed,
    refused: row.refused.map((r) => ({ i: r.i, gate: r.found ? gateOf(r) : undefined, duplicate: r.duplicate })),
  };
}

/** One event as the statement reads it: the columns of `batch` above under one-letter keys. */
interface WireRow {
  i: number;
  d: string;
  a: string;
  k: string;
  t: string;
  o: string;
  q?: string;
  m?: number;
  c?: string;
  v?: number;
  s?: boolean;
  x?: Record<string, unknown>;
  f?: true;
}

/**
 * `rows` as JSON with one-letter keys and no quantity where it is the default 1: a quarter fewer
 * bytes to encode, to escape again inside the SQL-over-HTTP request, to send, and for the driver's
 * endpoint and Postgres to parse. Keys are only set when present, so JSON.stringify sees a few
 * object shapes, not properties holding undefined.
 */
function batchJson(rows: EventRow[]): string {
  return JSON.stringify(
    rows.map((row) => {
      const wire: WireRow = { i: row.i, d: row.id, a: row.agent_id, k: row.kind, t: row.type, o: row.occurred_at };
      if (row.quantity !== "1") wire.q = row.quantity;
      if (row.amount !== undefined) wire.m = row.amount;
      if (row.currency !== undefined) wire.c = row.currency;
      if (row.value !== undefined) wire.v = row.value;
      if (row.success !== undefined) wire.s = row.success;
      if (row.metadata !== undefined) wire.x = row.metadata;
      if (row.future) wire.f = true;
      return wire;
    }),
  );
}

function gateOf(r: RefusedJson): AgentGate {
  return {
    status: r.status ?? "",
    customerId: r.customer_id,
    closed:
      r.period_start && r.period_end && r.invoice_status
        ? { start: r.period_start, end: r.period_end, endsAt: Date.parse(`${r.period_end}T00:00:00Z`), number: r.number, status: r.invoice_status }
        : null,
  };
}
